// Rules for meshcd's own kinds: Rollout (how a change to a VirtualService's
// routes is walked out; references to other resources: analyzers/rollouts.ts) and MeshConfig (mesh-wide settings).
import type { MeshConfigSpec, RolloutSpec } from '../../api/istio.js';
import { at, type RuleContext } from './context.js';
import { BUILTIN_TEMPLATES } from '../../rollout/contracts.js';
import { checkLocalityLb } from './destinationrule.js';
import { checkDuration, checkLabels, checkStringMatch, fqdnError, headerNameError, isDns1123Label, isK8sDns1123Label, isObject } from './common.js';

const STEP_ACTIONS = ['setWeight', 'pause', 'setHeaderRoute', 'setMirror', 'analysis', 'setProxies'] as const;
/** Steps that only a traffic rollout (route weights) or only a config canary (cohorts of proxies) can take. */
const TRAFFIC_ONLY = ['setWeight', 'setHeaderRoute', 'setMirror'] as const;
/** Kinds a config canary may cover (what a proxy's config is made of). */
const CANARY_KINDS = ['VirtualService', 'DestinationRule', 'Gateway', 'ServiceEntry', 'WorkloadEntry', 'Sidecar', 'PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication'];

/** strategy: proxies — target kinds/namespaces, cohort filters, setProxies sizes; and what each strategy cannot take. */
function checkStrategy(ctx: RuleContext, spec: RolloutSpec): void {
  const proxies = spec.strategy === 'proxies';
  const t = isObject(spec.target) ? spec.target : {};
  if (proxies) {
    for (const f of ['virtualService', 'route'] as const) if (t[f] !== undefined) ctx.error('rollout', at('spec.target', f), `strategy: proxies covers kinds and namespaces (target.kinds, target.namespaces), not a VirtualService route; drop target.${f} or use strategy: traffic`);
    (Array.isArray(t.kinds) ? t.kinds : []).forEach((k, i) => {
      if (typeof k === 'string' && !CANARY_KINDS.includes(k)) ctx.error('rollout', at('spec.target.kinds', i), `kind ${JSON.stringify(k)} is not one a config canary covers (${CANARY_KINDS.join(', ')})`);
    });
    for (const [path, list] of [['spec.target.namespaces', t.namespaces], ['spec.cohort.namespaces', isObject(spec.cohort) ? spec.cohort.namespaces : undefined]] as const) {
      (Array.isArray(list) ? list : []).forEach((n, i) => {
        if (typeof n === 'string' && !isK8sDns1123Label(n)) ctx.error('rollout', at(path, i), `namespace ${JSON.stringify(n)} is not a valid namespace name (DNS-1123 label)`);
      });
    }
    if (isObject(spec.cohort)) checkLabels(ctx, 'spec.cohort.labels', spec.cohort.labels);
  } else {
    if (typeof t.virtualService !== 'string' || t.virtualService === '') ctx.error('rollout', 'spec.target', 'a traffic rollout needs target.virtualService (or set strategy: proxies for a config canary)');
    for (const f of ['kinds', 'namespaces'] as const) if (t[f] !== undefined) ctx.error('rollout', at('spec.target', f), `target.${f} belongs to strategy: proxies (a config canary)`);
    if (spec.cohort !== undefined) ctx.error('rollout', 'spec.cohort', 'cohort belongs to strategy: proxies (a config canary)');
  }
  (Array.isArray(spec.steps) ? spec.steps : []).forEach((s, i) => {
    if (!isObject(s)) return;
    const sp = at('spec.steps', i);
    if (proxies) {
      for (const k of TRAFFIC_ONLY) if (s[k] !== undefined) ctx.error('rollout', at(sp, k), `${k} walks route weights; a config canary (strategy: proxies) walks cohorts of proxies with setProxies`);
    } else if (s.setProxies !== undefined) {
      ctx.error('rollout', at(sp, 'setProxies'), 'setProxies needs strategy: proxies (a config canary)');
    }
    const p = s.setProxies;
    if (!isObject(p)) return;
    const pp = at(sp, 'setProxies');
    if ((p.count === undefined) === (p.percent === undefined)) ctx.error('rollout', pp, 'setProxies needs exactly one of count or percent');
    if (typeof p.count === 'number' && p.count < 1) ctx.error('rollout', at(pp, 'count'), `setProxies count ${p.count} must be at least 1`);
    if (typeof p.percent === 'number' && (p.percent <= 0 || p.percent > 100)) ctx.error('percentage', at(pp, 'percent'), `setProxies percent ${p.percent} is not in range (0, 100]`);
  });
  const a = isObject(spec.analysis) ? spec.analysis : undefined;
  (a && Array.isArray(a.metrics) ? a.metrics : []).forEach((m, i) => {
    if (!isObject(m)) return;
    if (m.compare === 'rest' && !proxies) ctx.error('rollout', at(at('spec.analysis.metrics', i), 'compare'), 'compare: rest (the proxies outside the cohort) needs strategy: proxies; a traffic rollout compares with stable');
    if (m.compare === 'stable' && proxies) ctx.error('rollout', at(at('spec.analysis.metrics', i), 'compare'), 'a config canary compares its cohort with the rest: use compare: rest');
  });
}

function httpUrlError(v: string): string | undefined {
  try {
    const u = new URL(v);
    if ((u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '') return u.username || u.password ? 'must not carry credentials in the URL' : undefined;
  } catch {
    // fall through
  }
  return 'must be an http(s) URL';
}

export function checkRollout(ctx: RuleContext, spec: RolloutSpec): void {
  checkStrategy(ctx, spec);
  const t = spec.target;
  if (isObject(t)) {
    if (typeof t.virtualService === 'string' && t.virtualService !== '' && !isK8sDns1123Label(t.virtualService) && fqdnError(t.virtualService)) {
      ctx.error('rollout', 'spec.target.virtualService', `target virtualService ${JSON.stringify(t.virtualService)} is not a valid resource name (the VirtualService must be in the Rollout's namespace)`);
    }
  }
  const a = isObject(spec.analysis) ? spec.analysis : undefined;
  const metricNames = new Set<string>();
  for (const m of a && Array.isArray(a.metrics) ? a.metrics : []) if (isObject(m) && typeof m.name === 'string') metricNames.add(m.name);
  const steps = Array.isArray(spec.steps) ? spec.steps : [];
  steps.forEach((s, i) => {
    const sp = at('spec.steps', i);
    if (!isObject(s)) return;
    const actions = STEP_ACTIONS.filter((k) => s[k] !== undefined);
    if (actions.length !== 1) {
      ctx.error('rollout', sp, actions.length === 0 ? `step ${i} has no action; give exactly one of ${STEP_ACTIONS.join(', ')}` : `step ${i} has ${actions.length} actions (${actions.join(', ')}); give exactly one per step`);
    }
    if (typeof s.setWeight === 'number' && (s.setWeight < 0 || s.setWeight > 100)) ctx.error('weight', at(sp, 'setWeight'), `setWeight ${s.setWeight} is not in range 0..100`);
    if (isObject(s.pause)) checkDuration(ctx, at(at(sp, 'pause'), 'duration'), s.pause.duration);
    if (isObject(s.setMirror) && typeof s.setMirror.percent === 'number' && (s.setMirror.percent < 0 || s.setMirror.percent > 100)) {
      ctx.error('percentage', at(at(sp, 'setMirror'), 'percent'), `setMirror percent ${s.setMirror.percent} is not in range 0..100`);
    }
    if (isObject(s.setHeaderRoute) && Array.isArray(s.setHeaderRoute.match)) {
      s.setHeaderRoute.match.forEach((m, j) => {
        const mp = at(at(at(sp, 'setHeaderRoute'), 'match'), j);
        if (!isObject(m)) return;
        if (!isObject(m.headers) && !isObject(m.queryParams)) ctx.error('rollout', mp, 'a setHeaderRoute match needs headers or queryParams');
        for (const [name, sm] of Object.entries(isObject(m.headers) ? m.headers : {})) {
          const e = headerNameError(name);
          if (e) ctx.error('header', at(at(mp, 'headers'), name), e);
          checkStringMatch(ctx, at(at(mp, 'headers'), name), sm);
        }
        for (const [name, sm] of Object.entries(isObject(m.queryParams) ? m.queryParams : {})) checkStringMatch(ctx, at(at(mp, 'queryParams'), name), sm);
      });
    }
    if (isObject(s.analysis) && Array.isArray(s.analysis.metrics)) {
      s.analysis.metrics.forEach((name, j) => {
        if (typeof name === 'string' && !metricNames.has(name)) {
          ctx.error('rollout', at(at(at(sp, 'analysis'), 'metrics'), j), `analysis step names metric ${JSON.stringify(name)}, which spec.analysis.metrics does not define${metricNames.size ? ` (defined: ${[...metricNames].join(', ')})` : ''}`);
        }
      });
    }
  });
  if (a) {
    if (typeof a.interval === 'string') checkDuration(ctx, 'spec.analysis.interval', a.interval);
    for (const f of ['failureLimit', 'inconclusiveLimit', 'consecutiveErrorLimit'] as const) {
      const v = a[f];
      if (typeof v === 'number' && v < 0) ctx.error('rollout', at('spec.analysis', f), `${f} ${v} cannot be negative`);
    }
    if (isObject(a.prometheus) && typeof a.prometheus.address === 'string') {
      const e = httpUrlError(a.prometheus.address);
      if (e) ctx.error('rollout', 'spec.analysis.prometheus.address', `prometheus address ${JSON.stringify(a.prometheus.address)} ${e}`);
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
      const hasTemplate = typeof m.template === 'string';
      const hasQuery = typeof m.query === 'string';
      if (hasTemplate === hasQuery) ctx.error('rollout', mp, `metric ${JSON.stringify(m.name)} needs exactly one of template or query`);
      if (hasTemplate && !(BUILTIN_TEMPLATES as readonly string[]).includes(m.template!)) {
        ctx.error('rollout', at(mp, 'template'), `unknown template ${JSON.stringify(m.template)}; the built-in templates are ${BUILTIN_TEMPLATES.join(', ')}`);
      }
      const tr = m.thresholdRange;
      if (isObject(tr)) {
        if (tr.min === undefined && tr.max === undefined) ctx.error('rollout', at(mp, 'thresholdRange'), 'thresholdRange needs min, max or both');
        if (typeof tr.min === 'number' && typeof tr.max === 'number' && tr.min > tr.max) ctx.error('rollout', at(at(mp, 'thresholdRange'), 'min'), `thresholdRange min ${tr.min} is greater than max ${tr.max}`);
      }
      const limits = m.maxDelta !== undefined || m.maxRatio !== undefined;
      if (m.compare !== undefined && !limits) ctx.error('rollout', at(mp, 'compare'), `metric ${JSON.stringify(m.name)} compares with ${m.compare} but sets neither maxDelta nor maxRatio`);
      if (m.compare === undefined && limits) ctx.error('rollout', at(mp, m.maxDelta !== undefined ? 'maxDelta' : 'maxRatio'), `maxDelta and maxRatio need compare: ${spec.strategy === 'proxies' ? 'rest' : 'stable'}`);
      if (typeof m.maxRatio === 'number' && m.maxRatio <= 0) ctx.error('rollout', at(mp, 'maxRatio'), `maxRatio ${m.maxRatio} must be greater than 0`);
      if (!isObject(tr) && !limits) ctx.warn('rollout', mp, `metric ${JSON.stringify(m.name)} has no thresholdRange, so it can never fail the rollout`);
    });
  }
  const hooks = new Map<string, number>();
  (Array.isArray(spec.webhooks) ? spec.webhooks : []).forEach((w, i) => {
    const wp = at('spec.webhooks', i);
    if (!isObject(w)) return;
    if (typeof w.name === 'string') {
      if (hooks.has(w.name)) ctx.error('duplicate', at(wp, 'name'), `webhook name ${JSON.stringify(w.name)} is already used by webhooks[${hooks.get(w.name)}]`);
      hooks.set(w.name, i);
    }
    if (typeof w.url === 'string') {
      const e = httpUrlError(w.url);
      if (e) ctx.error('rollout', at(wp, 'url'), `webhook url ${e}`);
    }
    checkDuration(ctx, at(wp, 'timeout'), w.timeout);
  });
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
  if (isObject(spec.configCanary)) {
    // The same checks as a `strategy: proxies` Rollout, reported under spec.configCanary.
    const sub = Object.create(ctx, { report: { value: (severity: Parameters<RuleContext['report']>[0], code: Parameters<RuleContext['report']>[1], path: string, message: string) => ctx.report(severity, code, path.replace(/^spec(?=\.|$)/, 'spec.configCanary'), message) } }) as RuleContext;
    checkRollout(sub, { ...spec.configCanary, strategy: 'proxies', target: spec.configCanary.target ?? {} });
  }
  if (isObject(spec.namespaces)) {
    for (const [ns, v] of Object.entries(spec.namespaces)) {
      if (!isK8sDns1123Label(ns)) ctx.error('meshConfig', at('spec.namespaces', ns), `namespace ${JSON.stringify(ns)} is not a valid namespace name (DNS-1123 label)`);
      if (isObject(v)) checkLabels(ctx, at(at('spec.namespaces', ns), 'labels'), v.labels);
    }
  }
  // As Istio's ValidateMeshConfig: failover needs outlier detection, which each DestinationRule brings.
  checkLocalityLb(ctx, 'spec.localityLbSetting', spec.localityLbSetting, true);
}
