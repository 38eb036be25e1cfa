// IST0145 ConflictingGateways: two Gateways selecting the same gateway
// workloads (same selector) with a server on the same port for overlapping
// hosts. Envoy gets one listener per port, so only one of them takes effect.

import type { Resource } from '../../api/types.js';
import { arr, hostsOverlap, isObj, nsName, type AnalysisContext, type Analyzer } from './context.js';

interface ServerRef {
  gw: Resource<'Gateway'>;
  serverIndex: number;
  port: number;
  hosts: string[];
}

function selectorKey(sel: unknown): string {
  if (!isObj(sel)) return '';
  return Object.keys(sel).sort().map((k) => `${k}=${String(sel[k])}`).join(',');
}

function bareHost(h: string): string {
  const i = h.indexOf('/');
  return i >= 0 ? h.slice(i + 1) : h;
}

export const gatewayConflicts: Analyzer = {
  name: 'gateway/conflicting-gateways',
  codes: [{ code: 'IST0145', name: 'ConflictingGateways', severity: 'error', description: 'Two Gateways have the same selector and a server on the same port with overlapping hosts.' }],
  run(ctx: AnalysisContext) {
    const groups = new Map<string, ServerRef[]>();
    for (const gw of ctx.config.ofKind('Gateway')) {
      const sel = selectorKey(gw.spec.selector);
      arr(gw.spec.servers).forEach((s, i) => {
        if (!isObj(s) || !isObj(s.port) || typeof s.port.number !== 'number') return;
        const key = `${sel}|${s.port.number}`;
        let l = groups.get(key);
        if (!l) groups.set(key, (l = []));
        l.push({ gw, serverIndex: i, port: s.port.number, hosts: arr(s.hosts).filter((h): h is string => typeof h === 'string').map(bareHost) });
      });
    }
    for (const [key, list] of groups) {
      for (const a of list) {
        const conflicts = list.filter((b) => b.gw !== a.gw && a.hosts.some((h) => b.hosts.some((x) => hostsOverlap(h, x))));
        if (conflicts.length === 0) continue;
        const names = [...new Set(conflicts.map((c) => nsName(c.gw)))].sort().join(',');
        const hosts = [...new Set(a.hosts.filter((h) => conflicts.some((c) => c.hosts.some((x) => hostsOverlap(h, x)))))].join(',');
        ctx.report(a.gw, 'IST0145', 'error', `Conflict with gateways ${names} (workload selector ${key.split('|')[0] || '<none>'}, port ${a.port}, hosts ${hosts}).`, `spec.servers[${a.serverIndex}]`);
      }
    }
  },
};
