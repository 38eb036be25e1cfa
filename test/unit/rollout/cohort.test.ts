// Cohort selection for config canaries (src/rollout/cohort.ts): ranks are
// stable, a step takes the wanted number by rank, thresholds never go down,
// reconnects and churn move no one, filters decide eligibility.

import test from 'ava';
import { ALL, inCohort, isEligible, podOf, rank, selectCohort, wanted, type CohortProxy } from '../../../src/rollout/cohort.js';

const proxy = (i: number, namespace = 'bookinfo', labels: Record<string, string> = {}): CohortProxy => ({ id: `sidecar~10.0.0.${i}~app-${i}.${namespace}~${namespace}.svc.cluster.local`, namespace, labels });
const fleet = Array.from({ length: 20 }, (_, i) => proxy(i + 1));
const byRank = [...fleet].sort((a, b) => rank(a.id) - rank(b.id));

test('rank: 32 bits of SHA-256 of the id, the same every time', (t) => {
  t.is(rank('sidecar~10.0.0.1~app-1.bookinfo~bookinfo.svc.cluster.local'), rank('sidecar~10.0.0.1~app-1.bookinfo~bookinfo.svc.cluster.local'));
  t.is(rank('a'), 0xca978112); // sha256("a") = ca978112…
  for (const p of fleet) t.true(rank(p.id) >= 0 && rank(p.id) < ALL);
  t.is(new Set(fleet.map((p) => rank(p.id))).size, fleet.length);
});

test('wanted: counts as given (bounded by what exists), percentages rounded up with at least one', (t) => {
  const rows: [Parameters<typeof wanted>[0], number, number][] = [
    [{ count: 1 }, 20, 1],
    [{ count: 5 }, 3, 3],
    [{ count: 0 }, 20, 0],
    [{ percent: 10 }, 20, 2],
    [{ percent: 10 }, 5, 1],
    [{ percent: 1 }, 20, 1],
    [{ percent: 50 }, 5, 3],
    [{ percent: 100 }, 7, 7],
    [{ percent: 0 }, 20, 0],
    [{ percent: 50 }, 0, 0],
  ];
  for (const [size, n, want] of rows) t.is(wanted(size, n), want, JSON.stringify({ size, n }));
});

test('selectCohort takes the lowest ranks; a later step never lowers the threshold', (t) => {
  const one = selectCohort(fleet, { count: 1 }, undefined);
  t.deepEqual(one.members, [byRank[0]!.id]);
  t.is(one.threshold, rank(byRank[0]!.id));
  t.is(one.eligible, 20);
  const quarter = selectCohort(fleet, { percent: 25 }, undefined, one.threshold);
  t.deepEqual(quarter.members, byRank.slice(0, 5).map((p) => p.id));
  t.true(quarter.members.includes(one.members[0]!), 'the first cohort stays in');
  // A smaller step after a larger one keeps the larger cohort.
  t.deepEqual(selectCohort(fleet, { count: 1 }, undefined, quarter.threshold).members, quarter.members);
  const all = selectCohort(fleet, { percent: 100 }, undefined, quarter.threshold);
  t.is(all.threshold, ALL);
  t.is(all.members.length, 20);
  t.deepEqual(selectCohort(fleet, { count: 0 }, undefined), { threshold: -1, members: [], eligible: 20 });
  t.deepEqual(selectCohort([], { percent: 50 }, undefined), { threshold: -1, members: [], eligible: 0 });
});

test('reconnects and churn: membership is a function of the id and the threshold only', (t) => {
  const c = selectCohort(fleet, { percent: 25 }, undefined);
  const member = (p: CohortProxy) => inCohort(p, c.threshold, undefined);
  t.deepEqual(fleet.filter(member).map((p) => p.id).sort(), [...c.members].sort());
  // A member reconnects (same id, maybe another address's labels): still in.
  t.true(member({ ...byRank[0]!, labels: { version: 'v9' } }));
  // Members leave: nobody else joins; newcomers join only by their own rank.
  const left = fleet.filter((p) => p.id !== byRank[1]!.id);
  t.deepEqual(left.filter(member).map((p) => p.id).sort(), c.members.filter((id) => id !== byRank[1]!.id).sort());
  const newcomers = Array.from({ length: 200 }, (_, i) => proxy(100 + i));
  const joined = newcomers.filter(member).length;
  t.log(`${joined} of 200 newcomers fall in a 25% cohort of 20`);
  t.true(joined > 0 && joined < 200);
  for (const p of newcomers) t.is(member(p), rank(p.id) <= c.threshold);
  t.false(inCohort(byRank[0]!, -1, undefined), 'no cohort before the first setProxies');
  t.true(inCohort(proxy(999), ALL, undefined), 'at 100% every later proxy too');
});

test('filters: namespaces, labels (all), localities from topology labels', (t) => {
  const zone = (region: string, z: string) => ({ 'topology.kubernetes.io/region': region, 'topology.kubernetes.io/zone': z });
  const rows: [CohortProxy, Parameters<typeof isEligible>[1], boolean][] = [
    [proxy(1), undefined, true],
    [proxy(1), { namespaces: ['bookinfo'] }, true],
    [proxy(1, 'shop'), { namespaces: ['bookinfo'] }, false],
    [proxy(1, 'bookinfo', { app: 'reviews', version: 'v1' }), { labels: { app: 'reviews' } }, true],
    [proxy(1, 'bookinfo', { app: 'reviews' }), { labels: { app: 'reviews', version: 'v1' } }, false],
    [proxy(1, 'bookinfo', zone('eu', 'eu-1a')), { localities: [{ region: 'eu' }] }, true],
    [proxy(1, 'bookinfo', zone('eu', 'eu-1a')), { localities: [{ region: 'us' }, { region: 'eu', zone: 'eu-1b' }] }, false],
    [proxy(1, 'bookinfo', zone('eu', 'eu-1b')), { localities: [{ region: 'us' }, { region: 'eu', zone: 'eu-1b' }] }, true],
    [proxy(1), { localities: [{ region: 'eu' }] }, false],
  ];
  for (const [p, f, want] of rows) t.is(isEligible(p, f), want, `${JSON.stringify(p.labels)} ${p.namespace} ${JSON.stringify(f)}`);
  const mixed = [...fleet.slice(0, 10), ...fleet.slice(10).map((p) => ({ ...p, namespace: 'shop' }))];
  const c = selectCohort(mixed, { percent: 100 }, { namespaces: ['shop'] });
  t.is(c.eligible, 10);
  t.true(c.members.every((id) => mixed.find((p) => p.id === id)!.namespace === 'shop'));
  t.false(inCohort(mixed[0]!, c.threshold, { namespaces: ['shop'] }), 'outside the filter: never in, even at 100%');
});

test('podOf reads the pod of an Istio node id', (t) => {
  t.is(podOf('sidecar~10.0.0.1~reviews-v1-7f9c.bookinfo~bookinfo.svc.cluster.local'), 'reviews-v1-7f9c');
  t.is(podOf('router~10.0.0.2~gw.istio-system~istio-system.svc.cluster.local'), 'gw');
  t.is(podOf('plain-id'), 'plain-id');
});
