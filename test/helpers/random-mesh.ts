// Seeded random meshes (Istio resources) that mix every feature meshcd
// translates: shared by the translation property test and the Envoy-validator
// interop test. Seeds are fixed by the callers so a failure reproduces.

import type { AnyResource, ProxyInfo } from '../../src/api/types.js';

/** One proxy of every kind, in and out of the generated namespaces. */
export const RANDOM_MESH_PROXIES: readonly ProxyInfo[] = [
  { id: 's', kind: 'sidecar', namespace: 'a', labels: { app: 's0', version: 'v1' }, ips: ['10.0.0.1'] },
  { id: 'c', kind: 'sidecar', namespace: 'b', labels: { app: 'client' }, ips: [] },
  { id: 'g', kind: 'grpc', namespace: 'a', labels: { app: 's0', version: 'v1' }, ips: ['10.0.0.1'] },
  { id: 'h', kind: 'grpc', namespace: 'c', labels: { app: 'client' }, ips: ['10.2.0.1'] },
  { id: 'r', kind: 'router', namespace: 'a', labels: { istio: 'gw' }, ips: ['10.9.0.1'] },
];

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
  return {
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(l: readonly T[]): T => l[Math.floor(next() * l.length)]!,
    chance: (p: number) => next() < p,
  };
}

function res(kind: string, ns: string, name: string, spec: unknown, group = 'networking.istio.io/v1'): AnyResource {
  return { kind, apiVersion: group, metadata: { name, namespace: ns, labels: {}, annotations: {} }, spec, origin: { file: 'gen.yaml', line: 1 }, raw: {}, digest: '' } as unknown as AnyResource;
}

export function randomMesh(seed: number): AnyResource[] {
  const r = rng(seed);
  const out: AnyResource[] = [];
  const nss = ['a', 'b', 'c'];
  const names: { host: string; ns: string; ports: number[] }[] = [];
  const n = 3 + r.int(5);
  for (let i = 0; i < n; i++) {
    const ns = r.pick(nss);
    const name = `s${i}`;
    const proto = r.pick(['HTTP', 'GRPC', 'HTTP2', 'TCP', 'TLS', 'HTTPS', 'http', 'grpc', 'MONGO']);
    const ports = [8000 + r.int(3), ...(r.chance(0.3) ? [r.pick([9000, 15001, 15006])] : [])];
    const resolution = r.pick(['STATIC', 'STATIC', 'DNS', 'NONE']);
    const host = r.chance(0.75) ? `${name}.${ns}.svc.cluster.local` : r.chance(0.7) ? `${name}.example.com` : `*.${name}.example.com`;
    names.push({ host, ns, ports });
    const eps = Array.from({ length: r.int(4) }, (_, k) => ({
      address: resolution === 'DNS' && r.chance(0.5) ? `${name}-${k}.example.com` : `10.${i}.${k}.1`,
      labels: { app: name, version: r.pick(['v1', 'v2']) },
      ...(r.chance(0.5) ? { serviceAccount: name } : {}),
      ...(r.chance(0.5) ? { locality: r.pick(['r1/z1', 'r1/z2', 'r2']) } : {}),
      ...(r.chance(0.3) ? { weight: 1 + r.int(5) } : {}),
      ...(r.chance(0.3) ? { ports: { [`p${ports[0]}`]: 18000 + r.int(100) } } : {}),
    }));
    out.push(res('ServiceEntry', ns, name, {
      hosts: [host],
      ...(r.chance(0.3) ? { addresses: [`10.96.${i}.0/24`] } : {}),
      location: r.pick(['MESH_INTERNAL', 'MESH_EXTERNAL']),
      resolution,
      ports: ports.map((p) => ({ number: p, name: `p${p}`, protocol: proto })),
      endpoints: eps,
      ...(r.chance(0.2) ? { exportTo: [r.pick(['.', '*', 'b'])] } : {}),
    }));
    if (r.chance(0.7)) {
      const lb0 = r.pick([{ simple: 'LEAST_REQUEST' }, { simple: 'RANDOM' }, { simple: 'ROUND_ROBIN' }, { simple: 'PASSTHROUGH' }, { consistentHash: { httpHeaderName: 'x-u' } }, { consistentHash: { useSourceIp: true } }, { consistentHash: { httpCookie: { name: 'c', ttl: '10s' } } }, { consistentHash: { maglev: { tableSize: 65537 } } }]);
      const lb = r.chance(0.3) ? { ...lb0, warmupDurationSecs: '30s' } : lb0;
      const tls = r.pick([undefined, { mode: 'DISABLE' }, { mode: 'ISTIO_MUTUAL' }, { mode: 'SIMPLE', caCertificates: '/ca.pem', sni: 'x' }, { mode: 'MUTUAL', clientCertificate: '/c', privateKey: '/k', caCertificates: '/ca', subjectAltNames: ['a'] }, { mode: 'SIMPLE', credentialName: 'cred' }]);
      out.push(res('DestinationRule', ns, name, {
        host,
        trafficPolicy: {
          loadBalancer: lb,
          ...(tls ? { tls } : {}),
          ...(r.chance(0.5) ? { connectionPool: { tcp: { maxConnections: 1 + r.int(100), connectTimeout: '1s', ...(r.chance(0.5) ? { tcpKeepalive: { probes: 3, time: '60s', interval: '10s' } } : {}) }, http: { http2MaxRequests: 10, maxRequestsPerConnection: 3, idleTimeout: '5s', http1MaxPendingRequests: 2, maxRetries: 1, ...(r.chance(0.3) ? { useClientProtocol: true } : {}), ...(r.chance(0.3) ? { maxConcurrentStreams: 100 } : {}) } } } : {}),
          ...(r.chance(0.5) ? { outlierDetection: { consecutive5xxErrors: r.int(7), consecutiveGatewayErrors: r.int(3), interval: '2s', baseEjectionTime: '30s', maxEjectionPercent: r.int(120), ...(r.chance(0.5) ? { minHealthPercent: r.int(101) } : {}) } } : {}),
          ...(r.chance(0.3) ? { portLevelSettings: [{ port: { number: ports[0] }, loadBalancer: { simple: 'RANDOM' } }] } : {}),
        },
        subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' }, ...(r.chance(0.3) ? { trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } } : {}) }],
      }));
    }
  }
  for (let i = 0; i < n; i++) {
    if (!r.chance(0.7)) continue;
    const target = r.pick(names);
    const dest = () => ({ host: r.chance(0.9) ? r.pick(names).host : 'ghost.a.svc.cluster.local', ...(r.chance(0.6) ? { subset: r.pick(['v1', 'v2', 'v9']) } : {}), ...(r.chance(0.5) ? { port: { number: r.pick(target.ports) } } : {}) });
    const http = Array.from({ length: 1 + r.int(4) }, () => ({
      ...(r.chance(0.7) ? { match: [{ ...(r.chance(0.5) ? { uri: r.pick([{ prefix: '/a' }, { exact: '/b' }, { regex: '/c[0-9]+' }]) } : {}), ...(r.chance(0.5) ? { headers: { 'x-h': r.pick([{ exact: 'y' }, { prefix: '' }, { regex: 'z.*' }]) } } : {}), ...(r.chance(0.2) ? { queryParams: { q: { exact: '1' } } } : {}), ...(r.chance(0.2) ? { method: { exact: 'GET' } } : {}), ...(r.chance(0.2) ? { ignoreUriCase: true } : {}), ...(r.chance(0.2) ? { withoutHeaders: { 'x-w': { exact: '1' } } } : {}), ...(r.chance(0.1) ? { sourceLabels: { app: 'client' } } : {}), ...(r.chance(0.1) ? { sourceNamespace: r.pick(['a', 'b']) } : {}) }] } : {}),
      ...(r.chance(0.1)
        ? { redirect: { uri: '/r', redirectCode: r.pick([301, 302, 308]) } }
        : r.chance(0.1)
          ? { directResponse: { status: 200 + r.int(300), body: { string: 'x' } } }
          : { route: Array.from({ length: 1 + r.int(3) }, () => ({ destination: dest(), ...(r.chance(0.7) ? { weight: r.int(100) } : {}) })) }),
      ...(r.chance(0.3) ? { timeout: r.pick(['1s', '0s', '250ms']) } : {}),
      ...(r.chance(0.3) ? { retries: { attempts: r.int(4), ...(r.chance(0.5) ? { perTryTimeout: '100ms' } : {}), ...(r.chance(0.5) ? { retryOn: r.pick(['5xx', 'unavailable,cancelled', 'gateway-error,reset']) } : {}) } } : {}),
      ...(r.chance(0.3) ? { fault: { ...(r.chance(0.5) ? { delay: { fixedDelay: '1s', percentage: { value: r.int(101) } } } : {}), ...(r.chance(0.5) ? { abort: r.pick([{ httpStatus: 500 + r.int(4) }, { grpcStatus: 'UNAVAILABLE' }]) } : {}) } } : {}),
      ...(r.chance(0.2) ? { mirror: dest(), mirrorPercentage: { value: r.int(101) } } : {}),
      ...(r.chance(0.2) ? { rewrite: r.pick([{ uri: '/x' }, { authority: 'h' }, { uriRegexRewrite: { match: '^/a', rewrite: '/b' } }]) } : {}),
      ...(r.chance(0.2) ? { corsPolicy: { allowOrigins: [{ exact: 'https://a' }, { regex: '.*b' }], allowMethods: ['GET'], maxAge: '1h', allowCredentials: true } } : {}),
      ...(r.chance(0.2) ? { headers: { request: { set: { 'x-a': '1' }, remove: ['x-b'] }, response: { add: { 'x-c': '2' } } } } : {}),
    }));
    out.push(res('VirtualService', target.ns, `vs${i}`, {
      hosts: [r.chance(0.1) ? '*' : target.host],
      ...(r.chance(0.3) ? { gateways: ['mesh', 'a/gw'] } : {}),
      http,
      ...(r.chance(0.3) ? { tcp: [{ route: [{ destination: dest(), weight: 100 }] }] } : {}),
      ...(r.chance(0.3) ? { tls: [{ match: [{ sniHosts: [target.host] }], route: [{ destination: dest() }] }] } : {}),
    }));
  }
  out.push(res('Gateway', 'a', 'gw', {
    selector: { istio: 'gw' },
    servers: [
      { port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'], ...(r.chance(0.5) ? { tls: { httpsRedirect: true } } : {}) },
      { port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['*.svc.cluster.local'], tls: r.pick([{ mode: 'SIMPLE', credentialName: 'c' }, { mode: 'MUTUAL', credentialName: 'c' }, { mode: 'SIMPLE' }]) },
      { port: { number: 443, name: 'tls', protocol: 'TLS' }, hosts: ['*.example.com'], tls: { mode: 'PASSTHROUGH' } },
      { port: { number: 9999, name: 'tcp', protocol: 'TCP' }, hosts: ['*'] },
      { port: { number: 8080, name: 'http2', protocol: r.pick(['http', 'HTTP2', 'GRPC']) }, hosts: [r.pick(['*/*', 'b/*', './*.example.com'])] },
    ],
  }));
  const mode = () => r.pick(['STRICT', 'PERMISSIVE', 'DISABLE', 'UNSET']);
  out.push(res('PeerAuthentication', r.pick(nss), 'pa', { mtls: { mode: mode() }, ...(r.chance(0.3) ? { selector: { matchLabels: { app: 's0' } }, portLevelMtls: { '8000': { mode: mode() } } } : {}) }, 'security.istio.io/v1'));
  for (const action of ['ALLOW', 'DENY', 'AUDIT']) {
    if (!r.chance(0.5)) continue;
    out.push(res('AuthorizationPolicy', r.pick(nss), `ap-${action}`, {
      action,
      rules: Array.from({ length: r.int(3) }, () => ({
        ...(r.chance(0.6) ? { from: [{ source: r.pick([{ principals: ['cluster.local/ns/a/sa/x', '*'] }, { namespaces: ['a', 'b*'] }, { ipBlocks: ['10.0.0.0/8', '1.2.3.4'] }, { notRemoteIpBlocks: ['10.1.0.0/16'] }, { requestPrincipals: ['*'] }]) }] } : {}),
        ...(r.chance(0.6) ? { to: [{ operation: { ...(r.chance(0.5) ? { paths: ['/a*', '*b', '/c'] } : {}), ...(r.chance(0.5) ? { methods: ['GET'] } : {}), ...(r.chance(0.5) ? { ports: ['8000'] } : {}), ...(r.chance(0.3) ? { notHosts: ['x.com'] } : {}) } }] } : {}),
        ...(r.chance(0.4) ? { when: [r.pick([{ key: 'request.headers[x-a]', values: ['1'] }, { key: 'source.ip', notValues: ['10.0.0.1'] }, { key: 'destination.port', values: ['8000'] }, { key: 'request.auth.claims[iss]', values: ['x'] }, { key: 'source.namespace', values: ['a'] }])] } : {}),
      })),
    }, 'security.istio.io/v1'));
  }
  if (r.chance(0.2)) out.push(res('DestinationRule', 'c', 'all', { host: '*', trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' }, tls: { mode: 'ISTIO_MUTUAL' } } }));
  if (r.chance(0.5)) out.push(res('Sidecar', r.pick(nss), 'default', { egress: [{ hosts: [r.pick(['./*', '*/*', 'a/*', 'b/s1.b.svc.cluster.local'])] }], outboundTrafficPolicy: { mode: r.pick(['ALLOW_ANY', 'REGISTRY_ONLY']) } }));
  return out;
}

