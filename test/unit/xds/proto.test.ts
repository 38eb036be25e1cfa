import test from 'ava';
import { TYPE_URL } from '../../../src/api/types.js';
import { checkResource, contentVersion, decodeResource, encodeAny, encodeResource, ResourceEncodingError } from '../../../src/xds/proto.js';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

function apiListener(): Record<string, unknown> {
  return {
    name: 'reviews.bookinfo.svc.cluster.local:9080',
    api_listener: {
      api_listener: {
        '@type': HCM,
        stat_prefix: 'outbound',
        rds: { route_config_name: 'outbound|9080||reviews.bookinfo.svc.cluster.local', config_source: { ads: {}, resource_api_version: 'V3' } },
        http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
      },
    },
  };
}

function edsCluster(): Record<string, unknown> {
  return {
    name: 'outbound|9080|v1|reviews.bookinfo.svc.cluster.local',
    type: 'EDS',
    connect_timeout: { seconds: 10, nanos: 0 },
    lb_policy: 'ROUND_ROBIN',
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: 'outbound|9080|v1|reviews.bookinfo.svc.cluster.local' },
    circuit_breakers: { thresholds: [{ max_connections: { value: 100 } }] },
    metadata: { filter_metadata: { istio: { fields: { services: { string_value: 'reviews' } } } } },
  };
}

test('valid resources of every type check clean and round-trip', (t) => {
  const cases: [string, Record<string, unknown>][] = [
    [TYPE_URL.listener, apiListener()],
    [TYPE_URL.cluster, edsCluster()],
    [TYPE_URL.route, { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'a', weight: { value: 90 } }, { name: 'b', weight: { value: 10 } }] }, timeout: { seconds: 2, nanos: 0 } } }] }] }],
    [TYPE_URL.endpoint, { cluster_name: 'c', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 8080 } } }, load_balancing_weight: { value: 1 } }] }] }],
    [TYPE_URL.secret, { name: 'ROOTCA', validation_context: { trusted_ca: { inline_string: '-----BEGIN CERTIFICATE-----\n' } } }],
  ];
  for (const [url, value] of cases) {
    t.deepEqual(checkResource(url, value), [], url);
    const bytes = encodeResource(url, value);
    t.true(bytes.length > 0);
    const back = decodeResource(url, bytes);
    t.deepEqual(checkResource(url, back), [], `decoded ${url} re-checks clean`);
    t.is(contentVersion(encodeResource(url, back)), contentVersion(bytes), 'stable encoding');
  }
});

test('Any keeps its @type through encode/decode', (t) => {
  const back = decodeResource(TYPE_URL.listener, encodeResource(TYPE_URL.listener, apiListener())) as any;
  t.is(back.api_listener.api_listener['@type'], HCM);
  t.is(back.api_listener.api_listener.http_filters[0].typed_config['@type'], ROUTER);
});

const bad: [string, string, (v: any) => void, RegExp][] = [
  ['unknown top-level field', TYPE_URL.listener, (v) => (v.nmae = 'x'), /^nmae: unknown field of envoy\.config\.listener\.v3\.Listener/],
  ['camelCase inside Any', TYPE_URL.listener, (v) => (v.api_listener.api_listener.rds.routeConfigName = 'x'), /rds\.routeConfigName: unknown field.*did you mean route_config_name/],
  ['unknown field deep inside a nested Any', TYPE_URL.listener, (v) => (v.api_listener.api_listener.http_filters[0].typed_config.bogus = true), /http_filters\[0\]\.typed_config<Router>\.bogus: unknown field/],
  ['unknown @type', TYPE_URL.listener, (v) => (v.api_listener.api_listener['@type'] = 'type.googleapis.com/nope.Nope'), /unknown message type nope\.Nope/],
  ['Any without @type', TYPE_URL.listener, (v) => delete v.api_listener.api_listener['@type'], /Any needs '@type'/],
  ['string min_len', TYPE_URL.cluster, (v) => (v.name = ''), /^name: must not be empty/],
  ['duration gt 0', TYPE_URL.cluster, (v) => (v.connect_timeout = { seconds: 0, nanos: 0 }), /connect_timeout: must be > 0s/],
  ['enum unknown name', TYPE_URL.cluster, (v) => (v.lb_policy = 'FASTEST'), /lb_policy: unknown LbPolicy value "FASTEST"/],
  ['enum defined_only', TYPE_URL.cluster, (v) => (v.lb_policy = 4), /lb_policy: 4 is not a defined LbPolicy value/],
  ['wrong scalar type', TYPE_URL.cluster, (v) => (v.name = 7), /^name: expected a string/],
  ['uint32 range in wrapper', TYPE_URL.endpoint, (v) => (v.endpoints[0].lb_endpoints[0].load_balancing_weight = { value: 0 }), /load_balancing_weight: must be >= 1/],
  ['port above uint32 lte', TYPE_URL.endpoint, (v) => (v.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value = 70000), /port_value: must be <= 65535/],
  ['repeated min_items', TYPE_URL.route, (v) => (v.virtual_hosts[0].domains = []), /virtual_hosts\[0\]\.domains: needs at least 1 item/],
  ['required oneof', TYPE_URL.route, (v) => (v.virtual_hosts[0].routes[0].route = {}), /route\.cluster_specifier: one of cluster, cluster_header, weighted_clusters/],
  ['two members of a oneof', TYPE_URL.route, (v) => (v.virtual_hosts[0].routes[0].match.path = '/x'), /oneof path_specifier has more than one field set/],
  ['strict header name', TYPE_URL.route, (v) => (v.virtual_hosts[0].routes[0].match.headers = [{ name: 'bad\nname', exact_match: 'x' }]), /headers\[0\]\.name: .* is not a valid HTTP header name/],
  ['Struct in wrong shape', TYPE_URL.cluster, (v) => (v.metadata.filter_metadata.istio = { services: 'x' }), /filter_metadata\["istio"\]\.services: unknown field of google\.protobuf\.Struct/],
  ['message required', TYPE_URL.endpoint, (v) => delete v.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address, /socket_address\.address: must not be empty/],
];

for (const [title, url, mutate, re] of bad) {
  test(`refuses: ${title}`, (t) => {
    const base: Record<string, Record<string, unknown>> = {
      [TYPE_URL.listener]: apiListener(),
      [TYPE_URL.cluster]: edsCluster(),
      [TYPE_URL.route]: { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' } }] }] },
      [TYPE_URL.endpoint]: { cluster_name: 'c', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 8080 } } }, load_balancing_weight: { value: 1 } }] }] },
    };
    const v = structuredClone(base[url]!);
    t.deepEqual(checkResource(url, v), [], 'base is valid');
    mutate(v);
    const errs = checkResource(url, v);
    t.true(errs.some((e) => re.test(e)), `expected ${re} in ${JSON.stringify(errs)}`);
    const err = t.throws(() => encodeResource(url, v), { instanceOf: ResourceEncodingError });
    t.regex(err!.message, /^invalid /);
  });
}

test('@type must match the resource type', (t) => {
  const errs = checkResource(TYPE_URL.cluster, { '@type': TYPE_URL.listener, ...edsCluster() });
  t.true(errs.some((e) => e.startsWith('@type:')));
  t.deepEqual(checkResource(TYPE_URL.cluster, { '@type': TYPE_URL.cluster, ...edsCluster() }), []);
});

test('encodeAny wraps bytes with the type URL', (t) => {
  const any = encodeAny(TYPE_URL.cluster, edsCluster());
  t.is(any.type_url, TYPE_URL.cluster);
  t.deepEqual(decodeResource(TYPE_URL.cluster, any.value).name, edsCluster().name);
});

test('unknown resource type is an error, not a throw', (t) => {
  t.deepEqual(checkResource('type.googleapis.com/x.Y', {}), ['unknown resource type type.googleapis.com/x.Y']);
});

test('with reuse, a message object that passed the checks is not walked again inside another resource; one that failed is, and says so again; without, every check walks', (t) => {
  let reads = 0;
  // A route whose fields are read through a counting getter: walking it reads `match`.
  const route: Record<string, unknown> = { name: 'r', route: { cluster: 'c' } };
  Object.defineProperty(route, 'match', { enumerable: true, get: () => (reads++, { prefix: '/' }) });
  const table = (name: string, routes: unknown[]) => ({ name, virtual_hosts: [{ name: `${name}-vh`, domains: ['*'], routes }] });
  t.deepEqual(checkResource(TYPE_URL.route, table('a', [route]), { reuse: true }), []);
  const afterFirst = reads;
  t.true(afterFirst > 0);
  t.deepEqual(checkResource(TYPE_URL.route, table('b', [route]), { reuse: true }), [], 'the same route object in another route table');
  t.is(reads, afterFirst, 'it was not walked again');
  // A route with an error is walked every time and reported with each resource's own path.
  const bad = { name: 'bad', match: { prefix: '/' }, route: { cluster: 'c' }, nonsense: 1 };
  const e1 = checkResource(TYPE_URL.route, table('a', [bad]), { reuse: true });
  const e2 = checkResource(TYPE_URL.route, table('b', [route, bad]), { reuse: true });
  t.is(e1.length, 1);
  t.regex(e1[0]!, /virtual_hosts\[0\]\.routes\[0\]\.nonsense: unknown field/);
  t.regex(e2[0]!, /virtual_hosts\[0\]\.routes\[1\]\.nonsense: unknown field/);
  // Without reuse (a caller that may change objects) the route is walked again.
  t.deepEqual(checkResource(TYPE_URL.route, table('c', [route])), []);
  t.true(reads > afterFirst);
});
