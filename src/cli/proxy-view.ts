// What `meshcd proxy-status` and `meshcd proxy-config` make of the admin
// API's /debug/syncz and /debug/config_dump documents: per proxy and xDS type
// SYNCED/STALE/NACKED, and the rows of each proxy-config table (secrets by
// name only). Pure and free of Node APIs: the dashboard (src/dashboard/ui)
// shows the same rows from the same documents.
// Imports: src/api/types.ts (TYPE_URL) only.

import { TYPE_URL } from '../api/types.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);

export const XDS_TYPES = [
  ['CDS', TYPE_URL.cluster],
  ['LDS', TYPE_URL.listener],
  ['EDS', TYPE_URL.endpoint],
  ['RDS', TYPE_URL.route],
  ['SDS', TYPE_URL.secret],
] as const;
export type XdsShort = (typeof XDS_TYPES)[number][0];

export interface TypeSync {
  state: 'SYNCED' | 'STALE' | 'NACKED' | 'NOT SENT' | 'IGNORED';
  sentNonce?: string;
  /** When the unacknowledged response was sent, if the server says. */
  sentAt?: string;
  nack?: string;
}

export interface ProxyStatusRow {
  proxy: string;
  kind: string;
  namespace: string;
  revision: string;
  mode: string;
  types: Record<XdsShort, TypeSync>;
  lastPush?: string;
  connectedAt?: string;
  clientVersion: string;
}

/** SYNCED: the last response was ACKed; STALE: sent, not yet ACKed; NACKED: the last response was rejected. */
export function typeSync(st: unknown): TypeSync {
  if (!isObj(st)) return { state: 'IGNORED' };
  const sent = str(st.sentNonce);
  const nack = isObj(st.lastNack) ? st.lastNack : undefined;
  const at = str(st.sentAt);
  if (!sent) return { state: 'NOT SENT' };
  if (nack && str(nack.nonce) === sent) return { state: 'NACKED', sentNonce: sent, nack: str(nack.message) ?? 'rejected' };
  if (str(st.ackedNonce) === sent) return { state: 'SYNCED', sentNonce: sent };
  return { state: 'STALE', sentNonce: sent, ...(at ? { sentAt: at } : {}) };
}

export function statusRow(e: Obj, fallbackRevision?: string): ProxyStatusRow {
  const types = isObj(e.types) ? e.types : {};
  const row = {
    proxy: str(e.proxy) ?? '?',
    kind: str(e.kind) ?? '?',
    namespace: str(e.namespace) ?? '-',
    revision: str(e.revision) ?? fallbackRevision ?? '-',
    mode: str(e.mode) ?? '-',
    types: Object.fromEntries(XDS_TYPES.map(([short, url]) => [short, typeSync(types[url])])) as Record<XdsShort, TypeSync>,
    clientVersion: str(e.userAgent) ?? '-',
  } as ProxyStatusRow;
  const lastPush = str(e.lastPushAt) ?? str(e.lastPush);
  if (lastPush) row.lastPush = lastPush;
  const connectedAt = str(e.connectedAt);
  if (connectedAt) row.connectedAt = connectedAt;
  return row;
}

export const CONFIG_KINDS = {
  listener: { dump: 'ListenersConfigDump', list: 'dynamic_listeners' },
  route: { dump: 'RoutesConfigDump', list: 'dynamic_route_configs' },
  cluster: { dump: 'ClustersConfigDump', list: 'dynamic_active_clusters' },
  endpoint: { dump: 'EndpointsConfigDump', list: 'dynamic_endpoint_configs' },
  secret: { dump: 'SecretsConfigDump', list: 'dynamic_active_secrets' },
} as const;
export type ConfigKind = keyof typeof CONFIG_KINDS;

/** The resources of one kind from a config_dump: each with its name, version and proto3 JSON value. */
export function dumpEntries(dump: unknown, kind: ConfigKind): { name: string; version: string; value: Obj }[] {
  const want = CONFIG_KINDS[kind];
  const configs = isObj(dump) && Array.isArray(dump.configs) ? dump.configs.filter(isObj) : [];
  const section = configs.find((c) => str(c['@type'])?.endsWith(`.${want.dump}`));
  const list = section && Array.isArray(section[want.list]) ? (section[want.list] as unknown[]).filter(isObj) : [];
  return list.map((e) => {
    const active = isObj(e.active_state) ? e.active_state : e;
    const value = [active.listener, e.cluster, e.route_config, e.endpoint_config, e.secret].find(isObj) ?? {};
    const name = str(e.name) ?? str(value.name) ?? str(value.clusterName) ?? '?';
    return { name, version: str(active.version_info) ?? '', value };
  });
}

/** A secret as shown: its name, what it holds and its version; never key or certificate bytes. */
export function secretSummary(e: { name: string; version: string; value: Obj }): Obj {
  const holds = ['tlsCertificate', 'validationContext', 'sessionTicketKeys', 'genericSecret'].filter((k) => k in e.value);
  return { name: e.name, type: holds.join(',') || '-', version: e.version };
}

function addressOf(v: unknown): string {
  const sa = isObj(v) && isObj(v.socketAddress) ? v.socketAddress : undefined;
  if (sa) return `${str(sa.address) ?? '-'}:${str(sa.portValue) ?? '-'}`;
  const pipe = isObj(v) && isObj(v.pipe) ? str(v.pipe.path) : undefined;
  return pipe ? `unix:${pipe}` : '-';
}

export function configRows(kind: ConfigKind, entries: { name: string; version: string; value: Obj }[]): string[][] {
  switch (kind) {
    case 'listener':
      return [
        ['NAME', 'ADDRESS', 'FILTER CHAINS', 'TYPE'],
        ...entries.map((e) => [e.name, addressOf(e.value.address), String(Array.isArray(e.value.filterChains) ? e.value.filterChains.length : 0), isObj(e.value.apiListener) ? 'API (proxyless gRPC)' : 'socket']),
      ];
    case 'route':
      return [
        ['NAME', 'VHOST', 'DOMAINS', 'ROUTES'],
        ...entries.flatMap((e) => {
          const vhosts = Array.isArray(e.value.virtualHosts) ? e.value.virtualHosts.filter(isObj) : [];
          if (!vhosts.length) return [[e.name, '-', '-', '0']];
          return vhosts.map((vh) => {
            const domains = Array.isArray(vh.domains) ? vh.domains.map(String) : [];
            return [e.name, str(vh.name) ?? '-', domains.length > 3 ? `${domains.slice(0, 3).join(',')} +${domains.length - 3} more` : domains.join(',') || '-', String(Array.isArray(vh.routes) ? vh.routes.length : 0)];
          });
        }),
      ];
    case 'cluster':
      return [
        ['NAME', 'SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE'],
        ...entries.map((e) => {
          const [direction, port, subset, host] = e.name.split('|');
          const istio = host !== undefined;
          return [e.name, istio ? host! : '-', istio ? port! : '-', istio ? subset || '-' : '-', istio ? direction! : '-', str(e.value.type) ?? (isObj(e.value.edsClusterConfig) ? 'EDS' : '-')];
        }),
      ];
    case 'endpoint':
      return [
        ['ENDPOINT', 'STATUS', 'WEIGHT', 'CLUSTER'],
        ...entries.flatMap((e) => {
          const eps = (Array.isArray(e.value.endpoints) ? e.value.endpoints.filter(isObj) : []).flatMap((l) => (Array.isArray(l.lbEndpoints) ? l.lbEndpoints.filter(isObj) : []));
          if (!eps.length) return [['-', '-', '-', e.name]];
          return eps.map((lb) => [addressOf(isObj(lb.endpoint) ? lb.endpoint.address : undefined), str(lb.healthStatus) ?? 'HEALTHY', str(lb.loadBalancingWeight) ?? '-', e.name]);
        }),
      ];
    case 'secret':
      return [['NAME', 'TYPE', 'VERSION'], ...entries.map((e) => { const s = secretSummary(e); return [String(s.name), String(s.type), String(s.version) || '-']; })];
  }
}
