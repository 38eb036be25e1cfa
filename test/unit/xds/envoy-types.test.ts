// src/xds/envoy-types.ts is generated from Envoy's .proto files and must be
// current (UPDATE_GOLDEN=1 rewrites it); translation's resources are typed
// with it, so a misspelt or mistyped field does not compile (each expected
// error below fails the build if the types ever accept what it marks).

import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateEnvoyTypes } from '../../../src/xds/envoy-types-gen.js';
import type { Cluster, Listener, RouteConfiguration } from '../../../src/xds/envoy-types.js';
import { clusterResource } from '../../../src/xds/translate/common.js';

const FILE = join(process.cwd(), 'src', 'xds', 'envoy-types.ts');

test('src/xds/envoy-types.ts is what the generator writes from the protos', (t) => {
  const fresh = generateEnvoyTypes();
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(FILE, fresh);
  t.true(readFileSync(FILE, 'utf8') === fresh, 'stale: run UPDATE_GOLDEN=1 npx ava dist/test/unit/xds/envoy-types.test.js');
});

test('the types hold the fields translation writes, and refuse others at compile time', (t) => {
  const c: Cluster = { name: 'c', type: 'EDS', connect_timeout: { seconds: 1, nanos: 0 }, lb_policy: 'ROUND_ROBIN', circuit_breakers: { thresholds: [{ priority: 'DEFAULT', max_connections: { value: 1 } }] } };
  // @ts-expect-error a camelCase name is not a field of the proto (protobufjs would drop it silently)
  const misspelt: Cluster = { name: 'c', connectTimeout: { seconds: 1 } };
  // @ts-expect-error an enum value that does not exist
  const badEnum: Cluster = { name: 'c', lb_policy: 'ROUND_ROBINN' };
  // @ts-expect-error a wrapper field wants { value }
  const badWrapper: RouteConfiguration = { name: 'r', validate_clusters: false };
  // @ts-expect-error resource constructors take the message type
  clusterResource('l', { name: 'l', filter_chains: [] } satisfies Listener);
  t.is(clusterResource('c', c).name, 'c');
  t.truthy(misspelt && badEnum && badWrapper);
});
