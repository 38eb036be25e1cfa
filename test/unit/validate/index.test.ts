import test from 'ava';
import { loadYaml } from '../../helpers/revision.js';
import { validate } from '../../../src/validate/index.js';

test('a rule after a catch-all is reported once, with the analyzer code', async (t) => {
  const load = await loadYaml({
    'vs.yaml': `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: cart}
spec:
  hosts: [cart.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 8080, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.5}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: cart}
spec:
  hosts: [cart.default.svc.cluster.local]
  http:
  - name: main
    route: [{destination: {host: cart.default.svc.cluster.local}}]
    timeout: 2s
  - name: never
    route: [{destination: {host: cart.default.svc.cluster.local}}]
    timeout: 2s
`,
  });
  const codes = validate(load).filter((d) => d.severity !== 'info').map((d) => `${d.code}@${d.origin?.line}`);
  t.true(codes.includes('IST0130@20'), codes.join(', '));
  t.false(codes.some((c) => c.startsWith('MCD0211')), codes.join(', '));
});

test('the validation cache gives the same findings and re-checks only what changed', async (t) => {
  const { ValidationCache } = await import('../../../src/validate/index.js');
  const se = (name: string, extra = '') => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}}
spec:
  hosts: [${name}.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 8080, name: http, protocol: HTTP${extra}}]
  endpoints: [{address: 127.0.0.5}]
`;
  const files1 = { 'a.yaml': se('a'), 'b.yaml': se('b', ', wieght: 1'), 'c.yaml': se('c').replace('8080', '70000') };
  const cache = new ValidationCache();
  const l1 = await loadYaml(files1);
  const cold = validate(l1);
  t.deepEqual(validate(l1, { cache }), cold);
  t.is(cache.size, 3);
  t.deepEqual(validate(l1, { cache }), cold, 'a second pass from the cache is identical');
  t.true(cold.some((d) => d.code === 'MCD0100' && d.origin?.file === 'b.yaml'));
  // b fixed, c unchanged, a moved down one line: b and a are checked again, c comes from the cache.
  const l2 = await loadYaml({ ...files1, 'a.yaml': '\n' + se('a'), 'b.yaml': se('b') });
  const warm = validate(l2, { cache });
  t.deepEqual(warm, validate(l2));
  t.false(warm.some((d) => d.origin?.file === 'b.yaml' && d.severity === 'error'));
  t.true(warm.some((d) => d.origin?.file === 'c.yaml' && d.severity === 'error'));
  t.is(cache.size, 3, 'entries of resources no longer present are dropped');
});
