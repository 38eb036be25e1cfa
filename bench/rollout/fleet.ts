// Simulated Envoy sidecars for the rollout benches: state-of-the-world ADS
// streams (@grpc/grpc-js with meshcd's ADS service definition) that
// subscribe as a sidecar does (wildcard CDS and LDS, EDS for the clusters,
// RDS for the route names the listeners use), ACK every response at once,
// and remember, for one watched host, the weights of every route
// configuration they receive and when they ACKed it. 100 streams share a
// connection.

import * as grpc from '@grpc/grpc-js';
import { TYPE_URL } from '../../src/api/types.js';
import { adsClientDefinition } from '../../src/xds/server/service.js';
import { decodeResource } from '../../src/xds/proto.js';

type Weights = Record<string, number>;

export interface Sidecar {
  id: string;
  namespace: string;
  /** All four types ACKed at least once. */
  ready: boolean;
  /** Each RouteConfiguration response: when it was ACKed (Date.now) and the watched host's weights (subset → weight) in it. */
  routes: { at: number; weights?: Weights }[];
  /** Responses of any type since `mark()`. */
  pushes: number;
  /** NACKs sent (never, unless a resource failed to decode). */
  nacks: number;
  /** Each Cluster response: when it was ACKed and its version. */
  clusters: { at: number; version?: string }[];
}

const Ads = grpc.makeGenericClientConstructor(adsClientDefinition() as grpc.ServiceDefinition, 'AggregatedDiscoveryService');
const PER_CONNECTION = 100;

interface Response {
  type_url: string;
  version_info?: string;
  nonce?: string;
  resources?: { type_url: string; value: Uint8Array }[];
}

function routeConfigNames(v: unknown, out: Set<string>): void {
  if (Array.isArray(v)) for (const x of v) routeConfigNames(x, out);
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === 'route_config_name' && typeof x === 'string') out.add(x);
      else routeConfigNames(x, out);
    }
  }
}

/** The watched host's weights in a list of route configurations (the last route of its virtual host). */
function weightsOf(configs: Record<string, unknown>[], host: string): Weights | undefined {
  for (const rc of configs as { virtual_hosts?: { domains?: string[]; routes?: { route?: { cluster?: string; weighted_clusters?: { clusters: { name: string; weight?: { value: number } }[] } } }[] }[] }[]) {
    for (const vh of rc.virtual_hosts ?? []) {
      if (!vh.domains?.includes(host)) continue;
      const action = vh.routes?.at(-1)?.route;
      const subset = (cluster: string) => cluster.split('|')[2] || cluster;
      if (action?.cluster) return { [subset(action.cluster)]: 100 };
      if (action?.weighted_clusters) return Object.fromEntries(action.weighted_clusters.clusters.map((c) => [subset(c.name), c.weight?.value ?? 0]));
    }
  }
  return undefined;
}

export class SidecarFleet {
  readonly sidecars: Sidecar[] = [];
  private readonly clients: grpc.Client[] = [];
  private readonly calls: grpc.ClientDuplexStream<object, Response>[] = [];
  streamErrors = 0;

  constructor(private readonly address: string, private readonly watchedHost: string) {}

  connect(id: string, namespace: string, metadata: Record<string, string> = {}): Sidecar {
    if (this.sidecars.length % PER_CONNECTION === 0) this.clients.push(new Ads(this.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': 64 * 1024 * 1024 }));
    const client = this.clients.at(-1)! as unknown as { StreamAggregatedResources(): grpc.ClientDuplexStream<object, Response> };
    const call = client.StreamAggregatedResources();
    this.calls.push(call);
    const s: Sidecar = { id, namespace, ready: false, routes: [], clusters: [], pushes: 0, nacks: 0 };
    this.sidecars.push(s);
    const subscribed = new Map<string, string[]>([[TYPE_URL.cluster, []], [TYPE_URL.listener, []], [TYPE_URL.endpoint, []], [TYPE_URL.route, []]]);
    const acked = new Set<string>();
    let node: Record<string, unknown> | undefined = { id, metadata: { fields: Object.fromEntries(Object.entries({ NAMESPACE: namespace, ...metadata }).map(([k, v]) => [k, { string_value: v }])) }, user_agent_name: 'meshcd-bench' };
    const send = (type: string, names: string[], version = '', nonce = '') => {
      call.write({ type_url: type, resource_names: names, version_info: version, response_nonce: nonce, ...(node ? { node } : {}) });
      node = undefined;
    };
    const follow = (type: string, names: string[]) => {
      const sorted = [...new Set(names)].sort();
      if (sorted.join('\n') === subscribed.get(type)!.join('\n')) return;
      subscribed.set(type, sorted);
      send(type, sorted);
    };
    call.on('data', (r: Response) => {
      s.pushes++;
      let decoded: Record<string, unknown>[];
      try {
        decoded = r.type_url === TYPE_URL.endpoint ? [] : (r.resources ?? []).map((a) => decodeResource(a.type_url, a.value));
      } catch (err) {
        s.nacks++;
        call.write({ type_url: r.type_url, resource_names: subscribed.get(r.type_url), response_nonce: r.nonce ?? '', error_detail: { code: 3, message: (err as Error).message } });
        return;
      }
      send(r.type_url, subscribed.get(r.type_url) ?? [], r.version_info ?? '', r.nonce ?? '');
      const at = Date.now();
      acked.add(r.type_url);
      if (r.type_url === TYPE_URL.cluster) {
        s.clusters.push({ at, ...(r.version_info ? { version: r.version_info } : {}) });
        follow(TYPE_URL.endpoint, decoded.map((c) => String(c.name)).filter((n) => n.startsWith('outbound|')));
      } else if (r.type_url === TYPE_URL.listener) {
        const names = new Set<string>();
        routeConfigNames(decoded, names);
        follow(TYPE_URL.route, [...names]);
      } else if (r.type_url === TYPE_URL.route) {
        const weights = weightsOf(decoded, this.watchedHost);
        s.routes.push({ at, ...(weights ? { weights } : {}) });
      }
      if (!s.ready && acked.size === 4) s.ready = true;
    });
    call.on('error', () => this.streamErrors++);
    send(TYPE_URL.cluster, []);
    send(TYPE_URL.listener, []);
    return s;
  }

  /** Start counting pushes afresh. */
  mark(): void {
    for (const s of this.sidecars) s.pushes = 0;
  }

  async waitReady(ms: number): Promise<number> {
    const end = Date.now() + ms;
    while (Date.now() < end && this.sidecars.some((s) => !s.ready)) await new Promise((r) => setTimeout(r, 100));
    return this.sidecars.filter((s) => s.ready).length;
  }

  close(): void {
    for (const c of this.calls) c.cancel();
    for (const c of this.clients) c.close();
  }
}

/** When `s` first ACKed a route configuration with exactly these weights at or after `since`; undefined if it has not. */
export function ackedAt(s: Sidecar, weights: Weights, since: number): number | undefined {
  const norm = (w: Weights) => JSON.stringify(Object.entries(w).filter(([, v]) => v > 0).sort());
  const want = norm(weights);
  return s.routes.find((r) => r.at >= since && r.weights && norm(r.weights) === want)?.at;
}

export function percentile(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
