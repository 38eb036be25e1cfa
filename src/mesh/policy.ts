// DestinationRule traffic policies, normalised once for translation: every
// duration (connectTimeout, idle timeouts, TCP keepalive, maxConnectionDuration,
// warmup, outlier interval and ejection time, cookie TTL) in milliseconds,
// a text that is not a duration diagnosed (MCD4002) and left out; and
// Istio's precedence (subset over top level, port level over its level) as
// `effectivePolicy`, so xds/translate reads numbers and never parses.
// Pure. Imports src/api and ./names.

import type { ClientTLSSettings, ConnectionPoolSettings, LoadBalancerSettings, OutlierDetection, TrafficPolicy } from '../api/istio.js';
import type { Diagnostic } from '../api/types.js';
import { parseDurationMs } from './names.js';

type ConsistentHash = NonNullable<LoadBalancerSettings['consistentHash']>;

export interface LoadBalancerModel extends Omit<LoadBalancerSettings, 'consistentHash' | 'warmupDurationSecs'> {
  consistentHash?: Omit<ConsistentHash, 'httpCookie'> & { httpCookie?: { name: string; path?: string; ttlMs?: number } };
  warmupMs?: number;
}

type Tcp = NonNullable<ConnectionPoolSettings['tcp']>;
type Http = NonNullable<ConnectionPoolSettings['http']>;

export interface ConnectionPoolModel {
  tcp?: Omit<Tcp, 'connectTimeout' | 'tcpKeepalive' | 'maxConnectionDuration' | 'idleTimeout'> & {
    connectTimeoutMs?: number;
    tcpKeepalive?: { probes?: number; timeMs?: number; intervalMs?: number };
    maxConnectionDurationMs?: number;
    idleTimeoutMs?: number;
  };
  http?: Omit<Http, 'idleTimeout'> & { idleTimeoutMs?: number };
}

export interface OutlierDetectionModel extends Omit<OutlierDetection, 'interval' | 'baseEjectionTime'> {
  intervalMs?: number;
  baseEjectionTimeMs?: number;
}

/** One level of a traffic policy (without port-level settings). */
export interface PolicyModel {
  loadBalancer?: LoadBalancerModel;
  connectionPool?: ConnectionPoolModel;
  outlierDetection?: OutlierDetectionModel;
  tls?: ClientTLSSettings;
}

export interface TrafficPolicyModel extends PolicyModel {
  portLevelSettings?: (PolicyModel & { port?: { number?: number } })[];
}

/** Only the fields that are set (so the model stays small and compares equal). */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/**
 * `p` with durations in milliseconds; `path` is where `p` sits in the
 * DestinationRule (for diagnostics), `key` the resource.
 */
export function normalizeTrafficPolicy(p: TrafficPolicy, key: string, path: string, diagnostics: Diagnostic[]): TrafficPolicyModel {
  const { portLevelSettings, ...top } = p;
  const out: TrafficPolicyModel = normalizeLevel(top, key, path, diagnostics);
  if (portLevelSettings) {
    out.portLevelSettings = portLevelSettings.map((pl, i) => {
      const { port, ...rest } = pl;
      return { ...normalizeLevel(rest, key, `${path}.portLevelSettings[${i}]`, diagnostics), ...(port ? { port } : {}) };
    });
  }
  return out;
}

function normalizeLevel(p: Omit<TrafficPolicy, 'portLevelSettings'>, key: string, path: string, diagnostics: Diagnostic[]): PolicyModel {
  const ms = (text: string | undefined, field: string): number | undefined => {
    if (text === undefined) return undefined;
    const v = parseDurationMs(text);
    if (v === undefined) diagnostics.push({ code: 'MCD4002', severity: 'warning', message: `${field.slice(field.lastIndexOf('.') + 1)} "${text}" is not a duration; ignored`, resource: key, path: `${path}.${field}` });
    return v;
  };
  const out: PolicyModel = {};
  if (p.loadBalancer) {
    const { consistentHash, warmupDurationSecs, ...lb } = p.loadBalancer;
    const m: LoadBalancerModel = { ...lb };
    if (consistentHash) {
      const { httpCookie, ...ch } = consistentHash;
      m.consistentHash = { ...ch, ...(httpCookie ? { httpCookie: defined({ name: httpCookie.name, path: httpCookie.path, ttlMs: ms(httpCookie.ttl, 'loadBalancer.consistentHash.httpCookie.ttl') }) } : {}) };
    }
    const warmup = ms(warmupDurationSecs, 'loadBalancer.warmupDurationSecs');
    if (warmup !== undefined) m.warmupMs = warmup;
    out.loadBalancer = m;
  }
  if (p.connectionPool) {
    const { tcp, http } = p.connectionPool;
    const cp: ConnectionPoolModel = {};
    if (tcp) {
      const { connectTimeout, tcpKeepalive, maxConnectionDuration, idleTimeout, ...rest } = tcp;
      cp.tcp = defined({
        ...rest,
        connectTimeoutMs: ms(connectTimeout, 'connectionPool.tcp.connectTimeout'),
        tcpKeepalive: tcpKeepalive ? defined({ probes: tcpKeepalive.probes, timeMs: ms(tcpKeepalive.time, 'connectionPool.tcp.tcpKeepalive.time'), intervalMs: ms(tcpKeepalive.interval, 'connectionPool.tcp.tcpKeepalive.interval') }) : undefined,
        maxConnectionDurationMs: ms(maxConnectionDuration, 'connectionPool.tcp.maxConnectionDuration'),
        idleTimeoutMs: ms(idleTimeout, 'connectionPool.tcp.idleTimeout'),
      });
    }
    if (http) {
      const { idleTimeout, ...rest } = http;
      cp.http = defined({ ...rest, idleTimeoutMs: ms(idleTimeout, 'connectionPool.http.idleTimeout') });
    }
    out.connectionPool = cp;
  }
  if (p.outlierDetection) {
    const { interval, baseEjectionTime, ...od } = p.outlierDetection;
    out.outlierDetection = defined({ ...od, intervalMs: ms(interval, 'outlierDetection.interval'), baseEjectionTimeMs: ms(baseEjectionTime, 'outlierDetection.baseEjectionTime') });
  }
  if (p.tls) out.tls = p.tls;
  return out;
}

/** Istio's precedence: subset level over top level, port level over its level; each field replaces whole. */
export function effectivePolicy(dr: { trafficPolicy?: TrafficPolicyModel; subsets: { name: string; trafficPolicy?: TrafficPolicyModel }[] } | undefined, port: number, subset: string | undefined): PolicyModel {
  if (!dr) return {};
  const level = (p: TrafficPolicyModel | undefined): PolicyModel => {
    if (!p) return {};
    const { portLevelSettings, ...rest } = p;
    const pl = portLevelSettings?.find((s) => s.port?.number === port);
    if (!pl) return rest;
    const { port: _p, ...plRest } = pl;
    return { ...rest, ...plRest };
  };
  const top = level(dr.trafficPolicy);
  const sub = subset ? dr.subsets.find((s) => s.name === subset) : undefined;
  return { ...top, ...level(sub?.trafficPolicy) };
}
