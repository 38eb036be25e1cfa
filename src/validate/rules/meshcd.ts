// Rules for meshcd's own kinds: Rollout (progressive delivery of one
// VirtualService route) and MeshConfig (mesh-wide settings).
import type { MeshConfigSpec, RolloutSpec } from '../../api/istio.js';
import { at, type RuleContext } from './context.js';
import { checkDestination, checkDuration, checkLabels, checkStringMatch, fqdnError, headerNameError, isDns1123Label, isK8sDns1123Label, isObject } from './common.js';

export function checkRollout(ctx: RuleContext, spec: RolloutSpec): void {
  const vs = spec.virtualService;
  if (isObject(vs)) {
    if (typeof vs.name === 'string' && vs.name !== '' && !isK8sDns1123Label(vs.name) && fqdnError(vs.name)) ctx.error('rollout', 'spec.virtualService.name', `virtualService name ${JSON.stringify(vs.name)} is not a valid resource name`);
    if (typeof vs.namespace === 'string' && vs.namespace !== '' && !isK8sDns1123Label(vs.namespace)) ctx.error('name', 'spec.virtualService.namespace', `invalid namespace ${JSON.stringify(vs.namespace)}`);
  }
  checkDestination(ctx, 'spec.stable', spec.stable);
  checkDestination(ctx, 'spec.canary', spec.canary);
  if (isObject(spec.stable) && isObject(spec.canary) && spec.stable.host === spec.canary.host && (spec.stable.subset ?? '') === (spec.canary.subset ?? '') && spec.stable.port?.number === spec.canary.port?.number) {
    ctx.error('rollout', 'spec.canary', 'stable and canary are the same destination; the canary must differ by host, subset or port');
  }
  let previous = -1;
  const steps = Array.isArray(spec.steps) ? spec.steps : [];
  steps.forEach((s, i) => {
    const sp = at('spec.steps', i);
    if (!isObject(s)) return;
    if (typeof s.weight === 'number') {
      if (s.weight < 0 || s.weight > 100) ctx.error('weight', at(sp, 'weight'), `step weight ${s.weight} is not in range 0..100`);
      else if (s.weight <= previous) ctx.error('rollout', at(sp, 'weight'), `step weights must increase: ${s.weight} follows ${previous}`);
      previous = Math.max(previous, s.weight);
    } else if (s.headerMatch === undefined && s.pause === undefined) {
      ctx.error('rollout', sp, 'a step needs a weight, a headerMatch or a pause');
    }
    if (typeof s.pause === 'string') checkDuration(ctx, at(sp, 'pause'), s.pause);
    if (isObject(s.headerMatch)) {
      for (const [name, sm] of Object.entries(s.headerMatch)) {
        const e = headerNameError(name);
        if (e) ctx.error('header', at(at(sp, 'headerMatch'), name), e);
        checkStringMatch(ctx, at(at(sp, 'headerMatch'), name), sm);
      }
    }
  });
  const a = spec.analysis;
  if (isObject(a)) {
    if (typeof a.interval === 'string') checkDuration(ctx, 'spec.analysis.interval', a.interval);
    if (isObject(a.prometheus) && typeof a.prometheus.address === 'string') {
      let ok = false;
      try {
        const u = new URL(a.prometheus.address);
        ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
      } catch {
        ok = false;
      }
      if (!ok) ctx.error('rollout', 'spec.analysis.prometheus.address', `prometheus address ${JSON.stringify(a.prometheus.address)} must be an http(s) URL`);
    }
    const names = new Map<string, number>();
    (Array.isArray(a.metrics) ? a.metrics : []).forEach((m, i) => {
      const mp = at('spec.analysis.metrics', i);
      if (!isObject(m)) return;
      if (typeof m.name === 'string') {
        if (names.has(m.name)) ctx.error('duplicate', at(mp, 'name'), `metric name ${JSON.stringify(m.name)} is already used by metrics[${names.get(m.name)}]`);
        names.set(m.name, i);
        if (m.name !== '' && !isK8sDns1123Label(m.name)) ctx.error('name', at(mp, 'name'), `metric name ${JSON.stringify(m.name)} must be a DNS-1123 label (lower case letters, digits and '-')`);
      }
      const t = m.thresholdRange;
      if (isObject(t)) {
        if (t.min === undefined && t.max === undefined) ctx.error('rollout', at(mp, 'thresholdRange'), 'thresholdRange needs min, max or both');
        if (typeof t.min === 'number' && typeof t.max === 'number' && t.min > t.max) ctx.error('rollout', at(at(mp, 'thresholdRange'), 'min'), `thresholdRange min ${t.min} is greater than max ${t.max}`);
      } else {
        ctx.warn('rollout', mp, `metric ${JSON.stringify(m.name)} has no thresholdRange, so it can never fail the rollout`);
      }
      if (typeof m.failureLimit === 'number' && m.failureLimit < 0) ctx.error('rollout', at(mp, 'failureLimit'), 'failureLimit cannot be negative');
    });
  }
}

export function checkMeshConfig(ctx: RuleContext, spec: MeshConfigSpec): void {
  if (typeof spec.trustDomain === 'string') {
    const td = spec.trustDomain;
    const parts = td.split('.');
    const bad = td === '' || parts.some((l, i) => !(i === parts.length - 1 && l === '') && !isDns1123Label(l));
    if (bad) ctx.error('meshConfig', 'spec.trustDomain', td === '' ? 'trustDomain: empty domain name not allowed' : `trustDomain: trust domain name ${JSON.stringify(td)} invalid`);
  }
  for (const f of ['defaultNamespace', 'rootNamespace'] as const) {
    const v = spec[f];
    if (typeof v === 'string' && !isK8sDns1123Label(v)) ctx.error('meshConfig', at('spec', f), `${f} ${JSON.stringify(v)} is not a valid namespace name (DNS-1123 label)`);
  }
  if (typeof spec.clusterDomain === 'string') {
    const e = fqdnError(spec.clusterDomain);
    if (e) ctx.error('meshConfig', 'spec.clusterDomain', `clusterDomain: ${e}`);
  }
  if (isObject(spec.namespaces)) {
    for (const [ns, v] of Object.entries(spec.namespaces)) {
      if (!isK8sDns1123Label(ns)) ctx.error('meshConfig', at('spec.namespaces', ns), `namespace ${JSON.stringify(ns)} is not a valid namespace name (DNS-1123 label)`);
      if (isObject(v)) checkLabels(ctx, at(at('spec.namespaces', ns), 'labels'), v.labels);
    }
  }
}
