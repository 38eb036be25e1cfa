import test from 'ava';
import type { ProxyInfo, ProxyKind, XdsResource } from '../../../../src/api/types.js';
import { TYPE_URL } from '../../../../src/api/types.js';
import { buildMeshModel } from '../../../../src/mesh/index.js';
import { buildServiceIndex } from '../../../../src/registry/config.js';
import { translateWithDiagnostics, translationKey, translate } from '../../../../src/xds/translate/index.js';
import { checkResource } from '../../../../src/xds/proto.js';
import { configOf } from '../../mesh/config-of.js';
import { consistencyErrors } from '../../../golden/harness.js';

const SERVICES = `
kind: ServiceEntry
metadata: { name: api, namespace: app }
spec:
  hosts: [api.app.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  endpoints:
    - { address: 10.0.0.1, labels: { app: api, version: v1 }, serviceAccount: api }
    - { address: 10.0.0.2, labels: { app: api, version: v2 }, serviceAccount: api }
---
kind: ServiceEntry
metadata: { name: ext, namespace: app }
spec:
  hosts: [ext.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  endpoints: [{ address: 192.0.2.10 }]
`;

function proxy(kind: ProxyKind, extra: Partial<ProxyInfo> = {}): ProxyInfo {
  return { id: `${kind}~10.9.9.9~p.app~app.svc.cluster.local`, kind, namespace: 'app', labels: { app: 'client' }, ips: ['10.9.9.9'], ...extra };
}

function run(yaml: string, p: ProxyInfo) {
  const config = configOf(SERVICES + '---\n' + yaml);
  const model = buildMeshModel(config, buildServiceIndex(config));
  const r = translateWithDiagnostics(p, model);
  // Whatever the case, every resource must be acceptable and the snapshot consistent.
  const bad: string[] = [];
  for (const [url, m] of r.resources) for (const [n, res] of m) for (const e of checkResource(url, res.value)) bad.push(`${n}: ${e}`);
  return { ...r, bad, inconsistent: consistencyErrors(r.resources), model };
}

function value(r: { resources: ReturnType<typeof translate> }, url: string, name: string): Record<string, any> {
  const v = (r.resources.get(url as never) as ReadonlyMap<string, XdsResource> | undefined)?.get(name)?.value;
  if (!v) throw new Error(`no ${name}`);
  return v as Record<string, any>;
}

const API = 'outbound|8080||api.app.svc.cluster.local';

test('translationKey: same key, same resources; different labels, different key', (t) => {
  const config = configOf(SERVICES);
  const model = buildMeshModel(config, buildServiceIndex(config));
  const a = proxy('sidecar', { id: 'a', serviceAccount: 'x' });
  const b = proxy('sidecar', { id: 'b', serviceAccount: 'y', labels: { app: 'client' } });
  t.is(translationKey(a), translationKey(b));
  t.deepEqual(translate(a, model), translate(b, model));
  t.not(translationKey(a), translationKey(proxy('sidecar', { labels: { app: 'other' } })));
  t.not(translationKey(a), translationKey(proxy('grpc')));
});

test('LEAST_REQUEST: Envoy keeps it, proxyless gRPC falls back to ROUND_ROBIN with a warning', (t) => {
  const dr = `kind: DestinationRule
metadata: { name: api, namespace: app }
spec: { host: api, trafficPolicy: { loadBalancer: { simple: LEAST_REQUEST } } }`;
  const envoy = run(dr, proxy('sidecar'));
  const grpc = run(dr, proxy('grpc'));
  t.deepEqual([envoy.bad, grpc.bad, envoy.inconsistent, grpc.inconsistent], [[], [], [], []]);
  t.is(value(envoy, TYPE_URL.cluster, API).lb_policy, 'LEAST_REQUEST');
  t.is(value(grpc, TYPE_URL.cluster, API).lb_policy, 'ROUND_ROBIN');
  t.deepEqual(envoy.diagnostics.map((d) => d.code), []);
  t.deepEqual(grpc.diagnostics.map((d) => [d.code, d.severity, d.resource]), [['MCD4101', 'warning', 'DestinationRule/app/api']]);
});

test('outlier detection turns success-rate ejection off for every client kind, as Istio does (issue 10)', (t) => {
  const dr = `kind: DestinationRule
metadata: { name: api, namespace: app }
spec: { host: api, trafficPolicy: { outlierDetection: { consecutive5xxErrors: 5, interval: 1s } } }`;
  for (const kind of ['sidecar', 'router', 'grpc'] as const) {
    const r = run(dr, proxy(kind));
    t.deepEqual([r.bad, r.inconsistent], [[], []]);
    t.deepEqual(value(r, TYPE_URL.cluster, API).outlier_detection.enforcing_success_rate, { value: 0 }, kind);
  }
});

test('consistent hash: cookie for Envoy, channel hash plus a warning for gRPC; RING_HASH on both', (t) => {
  const dr = `kind: DestinationRule
metadata: { name: api, namespace: app }
spec: { host: api, trafficPolicy: { loadBalancer: { consistentHash: { httpCookie: { name: sticky, ttl: 60s } } } } }`;
  const envoy = run(dr, proxy('sidecar'));
  const grpc = run(dr, proxy('grpc'));
  t.deepEqual([envoy.bad, grpc.bad], [[], []]);
  t.is(value(envoy, TYPE_URL.cluster, API).lb_policy, 'RING_HASH');
  t.is(value(grpc, TYPE_URL.cluster, API).lb_policy, 'RING_HASH');
  const envoyRoute = value(envoy, TYPE_URL.route, '8080').virtual_hosts[0].routes[0];
  t.deepEqual(envoyRoute.route.hash_policy, [{ cookie: { name: 'sticky', ttl: { seconds: 60, nanos: 0 } } }]);
  const grpcRoute = value(grpc, TYPE_URL.route, API).virtual_hosts[0].routes[0];
  t.deepEqual(grpcRoute.route.hash_policy, [{ filter_state: { key: 'io.grpc.channel_id' } }]);
  t.true(grpc.diagnostics.some((d) => d.code === 'MCD4106'));
});

test('a destination that does not exist is dropped: Envoy answers 503, gRPC leaves the route out', (t) => {
  const vs = `kind: VirtualService
metadata: { name: api, namespace: app }
spec:
  hosts: [api]
  http:
    - match: [{ headers: { x-v: { exact: "9" } } }]
      route: [{ destination: { host: api, subset: v9 } }]
    - route: [{ destination: { host: api } }]`;
  const envoy = run(vs, proxy('sidecar'));
  const grpc = run(vs, proxy('grpc'));
  t.deepEqual([envoy.inconsistent, grpc.inconsistent], [[], []]);
  const er = value(envoy, TYPE_URL.route, '8080').virtual_hosts.find((v: any) => v.name === 'api.app.svc.cluster.local:8080').routes;
  t.deepEqual(er[0].direct_response, { status: 503 });
  const gr = value(grpc, TYPE_URL.route, API).virtual_hosts[0].routes;
  t.is(gr.length, 1);
  t.is(gr[0].route.cluster, API);
  t.true(envoy.diagnostics.some((d) => d.code === 'IST0101' && d.path === 'spec.http[0].route[0].destination'));
  t.true(grpc.diagnostics.some((d) => d.code === 'MCD4111'));
});

test('auto mTLS: Envoy uses ISTIO_MUTUAL to in-mesh services (with SANs), plaintext to external ones', (t) => {
  const r = run('', proxy('sidecar'));
  const c = value(r, TYPE_URL.cluster, API);
  const ctx = c.transport_socket.typed_config;
  t.is(ctx['@type'], 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext');
  t.deepEqual(ctx.common_tls_context.tls_certificate_sds_secret_configs.map((s: any) => s.name), ['default']);
  t.is(ctx.common_tls_context.combined_validation_context.validation_context_sds_secret_config.name, 'ROOTCA');
  t.deepEqual(ctx.common_tls_context.combined_validation_context.default_validation_context.match_subject_alt_names, [{ exact: 'spiffe://cluster.local/ns/app/sa/api' }]);
  t.is(value(r, TYPE_URL.cluster, 'outbound|8080||ext.example.com').transport_socket, undefined);
  // Proxyless clients only use mTLS when the server requires it.
  const g = run('', proxy('grpc'));
  t.is(value(g, TYPE_URL.cluster, API).transport_socket, undefined);
  const strict = run(`kind: PeerAuthentication
metadata: { name: default, namespace: app }
spec: { mtls: { mode: STRICT } }`, proxy('grpc'));
  const tls = value(strict, TYPE_URL.cluster, API).transport_socket.typed_config.common_tls_context;
  t.deepEqual(tls.tls_certificate_provider_instance, { instance_name: 'default', certificate_name: 'default' });
  t.deepEqual(tls.validation_context.ca_certificate_provider_instance, { instance_name: 'default', certificate_name: 'default' });
});

test('DestinationRule TLS modes', (t) => {
  const dr = (mode: string) => `kind: DestinationRule
metadata: { name: ext, namespace: app }
spec:
  host: ext.example.com
  trafficPolicy:
    tls: { mode: ${mode}, clientCertificate: /etc/c.pem, privateKey: /etc/k.pem, caCertificates: /etc/ca.pem, subjectAltNames: [ext.example.com] }`;
  const ext = 'outbound|8080||ext.example.com';
  const simple = run(dr('SIMPLE'), proxy('sidecar'));
  const mutual = run(dr('MUTUAL'), proxy('sidecar'));
  const disable = run(dr('DISABLE'), proxy('sidecar'));
  t.deepEqual([simple.bad, mutual.bad, disable.bad], [[], [], []]);
  const sctx = value(simple, TYPE_URL.cluster, ext).transport_socket.typed_config;
  t.is(sctx.sni, 'ext.example.com');
  t.deepEqual(sctx.common_tls_context.validation_context, { trusted_ca: { filename: '/etc/ca.pem' }, match_subject_alt_names: [{ exact: 'ext.example.com' }] });
  t.is(sctx.common_tls_context.tls_certificates, undefined);
  const mctx = value(mutual, TYPE_URL.cluster, ext).transport_socket.typed_config;
  t.deepEqual(mctx.common_tls_context.tls_certificates, [{ certificate_chain: { filename: '/etc/c.pem' }, private_key: { filename: '/etc/k.pem' } }]);
  t.is(value(disable, TYPE_URL.cluster, ext).transport_socket, undefined);
  const grpc = run(dr('MUTUAL'), proxy('grpc'));
  t.true(grpc.diagnostics.some((d) => d.code === 'MCD4103'));
});

test('PeerAuthentication on the sidecar inbound: STRICT refuses plaintext, DISABLE has no TLS, port-level wins', (t) => {
  const me = proxy('sidecar', { ips: ['10.0.0.1'], labels: { app: 'api', version: 'v1' } });
  const pa = (yaml: string) => run(`kind: PeerAuthentication
metadata: { name: pa, namespace: app }
spec: ${yaml}`, me);
  const chains = (r: ReturnType<typeof run>) =>
    value(r, TYPE_URL.listener, 'virtualInbound').filter_chains.map((c: any) => [c.name, c.filter_chain_match?.transport_protocol ?? '', c.transport_socket ? 'tls' : '-']);
  t.deepEqual(chains(pa('{ mtls: { mode: STRICT } }')), [
    ['inbound|8080||-tls', 'tls', 'tls'],
    ['inbound|8080||-plaintext-refused', 'raw_buffer', '-'],
    ['virtualInbound-catchall', '', '-'],
  ]);
  t.deepEqual(chains(pa('{ mtls: { mode: DISABLE } }')), [
    ['inbound|8080||-plaintext', 'raw_buffer', '-'],
    ['inbound|8080||-tls-passthrough', 'tls', '-'],
    ['virtualInbound-catchall', '', '-'],
  ]);
  t.deepEqual(chains(pa('{ selector: { matchLabels: { app: api } }, mtls: { mode: STRICT }, portLevelMtls: { "8080": { mode: PERMISSIVE } } }')), [
    ['inbound|8080||-tls', 'tls', 'tls'],
    ['inbound|8080||-plaintext', 'raw_buffer', '-'],
    ['virtualInbound-catchall', '', '-'],
  ]);
});

test('AuthorizationPolicy: unsupported ALLOW rule matches nothing, unsupported DENY condition is dropped, AUDIT refused for gRPC', (t) => {
  const me = (kind: ProxyKind) => proxy(kind, { ips: ['10.0.0.1'], labels: { app: 'api' } });
  const yaml = `kind: AuthorizationPolicy
metadata: { name: allow-jwt, namespace: app }
spec:
  selector: { matchLabels: { app: api } }
  rules: [{ from: [{ source: { requestPrincipals: ["*"] } }] }]
---
kind: AuthorizationPolicy
metadata: { name: deny-admin, namespace: app }
spec:
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/admin*"] } }], when: [{ key: "request.auth.claims[role]", values: [guest] }] }]
---
kind: AuthorizationPolicy
metadata: { name: audit, namespace: app }
spec: { action: AUDIT, rules: [{}] }`;
  for (const kind of ['sidecar', 'grpc'] as const) {
    const r = run(yaml, me(kind));
    t.deepEqual(r.bad, [], kind);
    const listener = kind === 'sidecar' ? value(r, TYPE_URL.listener, 'virtualInbound') : value(r, TYPE_URL.listener, 'xds.istio.io/grpc/lds/inbound/10.0.0.1:8080');
    const hcm = listener.filter_chains[0].filters[0].typed_config;
    const rbac = hcm.http_filters.filter((f: any) => f.name.startsWith('envoy.filters.http.rbac'));
    const byName = Object.fromEntries(rbac.map((f: any) => [f.name, f.typed_config.rules]));
    t.deepEqual(byName['envoy.filters.http.rbac.allow'], { action: 'ALLOW', policies: {} }, `${kind}: the ALLOW filter denies everything`);
    t.deepEqual(byName['envoy.filters.http.rbac.deny'].policies['ns[app]-policy[deny-admin]-rule[0]'].permissions, [{ url_path: { path: { prefix: '/admin' } } }]);
    t.is(byName['envoy.filters.http.rbac.log'] !== undefined, kind === 'sidecar');
    t.true(r.diagnostics.some((d) => d.code === 'MCD4121' && d.resource === 'AuthorizationPolicy/app/allow-jwt'));
    t.is(r.diagnostics.some((d) => d.code === 'MCD4120'), kind === 'grpc');
  }
});

test('Sidecar: the workload-selected one wins over the namespace default', (t) => {
  const yaml = `kind: Sidecar
metadata: { name: default, namespace: app }
spec: { egress: [{ hosts: ["./api.app.svc.cluster.local"] }] }
---
kind: Sidecar
metadata: { name: web, namespace: app }
spec: { workloadSelector: { labels: { app: web } }, egress: [{ hosts: ["*/ext.example.com"] }] }`;
  const names = (p: ProxyInfo) => [...run(yaml, p).resources.get(TYPE_URL.cluster)!.keys()].filter((n) => n.startsWith('outbound'));
  t.deepEqual(names(proxy('sidecar')), [API]);
  t.deepEqual(names(proxy('sidecar', { labels: { app: 'web' } })), ['outbound|8080||ext.example.com']);
});

test('gRPC client listeners answer to every name a client may dial and share one route config', (t) => {
  const r = run('', proxy('grpc'));
  const names = [...r.resources.get(TYPE_URL.listener)!.keys()].filter((n) => n.startsWith('api'));
  t.deepEqual(names, ['api.app.svc.cluster.local:8080', 'api.app.svc:8080', 'api.app:8080', 'api:8080']);
  for (const n of names) {
    const l = value(r, TYPE_URL.listener, n);
    t.is(l.name, n);
    t.is(l.api_listener.api_listener.rds.route_config_name, API);
    t.deepEqual(l.api_listener.api_listener.http_filters.map((f: any) => f.name), ['envoy.filters.http.fault', 'envoy.filters.http.router']);
  }
  // From another namespace the short name is not offered.
  const other = run('', proxy('grpc', { namespace: 'web' }));
  t.false(other.resources.get(TYPE_URL.listener)!.has('api:8080'));
});

test('workloads sharing an address (loopback) are told apart by labels', (t) => {
  const yaml = `kind: ServiceEntry
metadata: { name: a, namespace: app }
spec:
  hosts: [a.app.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{ number: 7000, name: grpc, protocol: GRPC }]
  endpoints: [{ address: 127.0.0.1, ports: { grpc: 17000 }, labels: { app: a } }]
---
kind: ServiceEntry
metadata: { name: b, namespace: app }
spec:
  hosts: [b.app.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{ number: 7001, name: grpc, protocol: GRPC }]
  endpoints: [{ address: 127.0.0.1, ports: { grpc: 17001 }, labels: { app: b } }]`;
  const inbound = (labels: Record<string, string>) =>
    [...run(yaml, proxy('grpc', { ips: ['127.0.0.1'], labels })).resources.get(TYPE_URL.listener)!.keys()].filter((n) => n.startsWith('xds.istio.io/grpc/lds/inbound/127.'));
  t.deepEqual(inbound({ app: 'b' }), ['xds.istio.io/grpc/lds/inbound/127.0.0.1:17001']);
  t.deepEqual(inbound({}), ['xds.istio.io/grpc/lds/inbound/127.0.0.1:17000', 'xds.istio.io/grpc/lds/inbound/127.0.0.1:17001']);
});

test('AuthorizationPolicy on a TCP port: network RBAC before tcp_proxy; HTTP-only ALLOW rules match nothing', (t) => {
  const yaml = `kind: ServiceEntry
metadata: { name: db, namespace: app }
spec:
  hosts: [db.app.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{ number: 5432, name: tcp, protocol: TCP }]
  endpoints: [{ address: 10.0.7.1, labels: { app: db } }]
---
kind: AuthorizationPolicy
metadata: { name: db, namespace: app }
spec:
  selector: { matchLabels: { app: db } }
  rules:
    - from: [{ source: { principals: ["cluster.local/ns/app/sa/api"] } }]
      to: [{ operation: { ports: ["5432"] } }]
    - to: [{ operation: { methods: [GET] } }]`;
  const r = run(yaml, proxy('sidecar', { ips: ['10.0.7.1'], labels: { app: 'db' } }));
  t.deepEqual(r.bad, []);
  const chain = value(r, TYPE_URL.listener, 'virtualInbound').filter_chains[0];
  t.deepEqual(chain.filters.map((f: any) => f.name), ['envoy.filters.network.rbac.allow', 'envoy.filters.network.tcp_proxy']);
  const policies = chain.filters[0].typed_config.rules.policies;
  t.deepEqual(Object.keys(policies), ['ns[app]-policy[db]-rule[0]']);
  t.deepEqual(policies['ns[app]-policy[db]-rule[0]'].permissions, [{ destination_port: 5432 }]);
  t.true(r.diagnostics.some((d) => d.code === 'MCD4121' && d.path === 'spec.rules[1]'));
});

test('AuthorizationPolicy selecting a gateway applies to its HTTP listeners', (t) => {
  const yaml = `kind: Gateway
metadata: { name: gw, namespace: app }
spec:
  selector: { istio: ingress }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }]
---
kind: AuthorizationPolicy
metadata: { name: block, namespace: app }
spec:
  selector: { matchLabels: { istio: ingress } }
  action: DENY
  rules: [{ from: [{ source: { ipBlocks: [203.0.113.0/24] } }] }]`;
  const r = run(yaml, proxy('router', { labels: { istio: 'ingress' } }));
  t.deepEqual(r.bad, []);
  const hcm = value(r, TYPE_URL.listener, '0.0.0.0_80').filter_chains[0].filters[0].typed_config;
  t.deepEqual(hcm.http_filters.map((f: any) => f.name), ['envoy.filters.http.rbac.deny', 'envoy.filters.http.fault', 'envoy.filters.http.cors', 'envoy.filters.http.router']);
});

test('AUTO_PASSTHROUGH gateway: one SNI chain per service port and subset', (t) => {
  const yaml = `kind: Gateway
metadata: { name: eastwest, namespace: app }
spec:
  selector: { istio: eastwest }
  servers: [{ port: { number: 15443, name: tls, protocol: TLS }, hosts: ["*.svc.cluster.local"], tls: { mode: AUTO_PASSTHROUGH } }]
---
kind: DestinationRule
metadata: { name: api, namespace: app }
spec: { host: api, subsets: [{ name: v1, labels: { version: v1 } }] }`;
  const r = run(yaml, proxy('router', { labels: { istio: 'eastwest' } }));
  t.deepEqual([r.bad, r.inconsistent], [[], []]);
  const l = value(r, TYPE_URL.listener, '0.0.0.0_15443');
  t.deepEqual(l.filter_chains.map((c: any) => [c.filter_chain_match.server_names[0], c.filters[0].typed_config.cluster]), [
    ['outbound_.8080_._.api.app.svc.cluster.local', API],
    ['outbound_.8080_.v1_.api.app.svc.cluster.local', 'outbound|8080|v1|api.app.svc.cluster.local'],
  ]);
  t.is(l.listener_filters[0].name, 'envoy.filters.listener.tls_inspector');
});

test('outbound config shared between proxy classes is the same as translating each alone', async (t) => {
  const yaml = `kind: Sidecar
metadata: { name: web, namespace: app }
spec: { workloadSelector: { labels: { app: web } }, egress: [{ hosts: ["*/ext.example.com"] }] }
---
kind: VirtualService
metadata: { name: api, namespace: app }
spec:
  hosts: [api]
  http:
    - match: [{ sourceLabels: { tier: edge } }]
      route: [{ destination: { host: api }, weight: 100 }]
      timeout: 1s
    - route: [{ destination: { host: api } }]`;
  const fresh = () => {
    const config = configOf(SERVICES + '---\n' + yaml);
    return buildMeshModel(config, buildServiceIndex(config));
  };
  const shared = fresh();
  const proxies: ProxyInfo[] = [
    proxy('sidecar', { ips: ['10.0.0.1'], labels: { app: 'api', version: 'v1' } }),
    proxy('sidecar', { ips: ['10.0.0.2'], labels: { app: 'api', version: 'v2' } }),
    proxy('sidecar', { ips: ['10.0.0.3'], labels: { app: 'web' } }),
    proxy('sidecar', { ips: ['10.0.0.4'], labels: { app: 'api', tier: 'edge' } }),
    proxy('grpc', { ips: ['10.0.0.1'], labels: { app: 'api', version: 'v1' } }),
    proxy('grpc', { ips: ['10.0.0.9'], labels: { app: 'x' } }),
  ];
  const together = proxies.map((p) => translateWithDiagnostics(p, shared));
  proxies.forEach((p, i) => {
    const alone = translateWithDiagnostics(p, fresh());
    t.deepEqual(together[i]!.resources, alone.resources, `${p.kind} ${JSON.stringify(p.labels)}`);
    t.deepEqual(together[i]!.diagnostics, alone.diagnostics);
  });
  // The workload-specific parts differ; the web Sidecar and the tier=edge route change outbound.
  const inbound = (i: number) => (together[i]!.resources.get(TYPE_URL.listener)!.get('virtualInbound')!.value as any).filter_chains.length;
  t.not(inbound(0), inbound(2));
  t.notDeepEqual(together[0]!.resources.get(TYPE_URL.cluster), together[2]!.resources.get(TYPE_URL.cluster));
  t.notDeepEqual(together[0]!.resources.get(TYPE_URL.route), together[3]!.resources.get(TYPE_URL.route));
});

test('a gateway only binds VirtualServices exported to its own namespace', (t) => {
  const yaml = (exportTo: string) => `kind: Gateway
metadata: { name: gw, namespace: app }
spec:
  selector: { istio: ingress }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }]
---
kind: VirtualService
metadata: { name: site, namespace: app }
spec:
  hosts: [site.example.com]
  gateways: [app/gw]
  exportTo: ["${exportTo}"]
  http: [{ route: [{ destination: { host: api } }] }]`;
  const gw = proxy('router', { namespace: 'ingress', labels: { istio: 'ingress' } });
  const vhosts = (e: string) => value(run(yaml(e), gw), TYPE_URL.route, 'http.80').virtual_hosts.map((v: any) => v.name);
  t.deepEqual(vhosts('*'), ['site.example.com:80']);
  t.deepEqual(vhosts('.'), ['blackhole:404']);
  t.deepEqual(vhosts('ingress'), ['site.example.com:80']);
});
