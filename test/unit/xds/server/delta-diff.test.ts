// Delta answers worked out from the difference between two snapshots (the
// snapshot a stream's known versions agree with, and the new one) are the
// answers worked out by comparing every selected resource with what the
// proxy holds: random snapshot sequences, plain and composed (a shared part
// plus an own part), with subscriptions, unsubscriptions, NACKs, secrets a
// stream may not receive and names that do not exist, drive two streams
// (one each way) with the same inputs, and every response must agree. And
// the point of it: a push that changes one of 2,000 clusters selects
// nothing and sends one.

import test from 'ava';
import type { ProxyResources, TypeUrl, XdsResource } from '../../../../src/api/types.js';
import { TYPE_URL } from '../../../../src/api/types.js';
import { buildSnapshot, composeSnapshot, type EncodedSnapshot } from '../../../../src/xds/cache/snapshot.js';
import { AdsStream, type StreamHooks } from '../../../../src/xds/server/stream.js';
import type { DeltaResponse } from '../../../../src/xds/server/service.js';
import { clusterName, grpcResources, res, type SvcSpec } from '../../../helpers/xds-resources.js';
import { rng } from '../translate/mutate.js';

const CDS = TYPE_URL.cluster;
const EDS = TYPE_URL.endpoint;
const SDS = TYPE_URL.secret;

function stream(fromDiff: boolean) {
  const sent: DeltaResponse[] = [];
  const hooks: StreamHooks = { sendSotw: () => undefined, sendDelta: (r) => sent.push(r), acked: () => undefined, nacked: () => undefined, oversize: () => undefined, pushed: () => undefined };
  const s = new AdsStream({ id: 'p', kind: 'sidecar', namespace: 'ns', labels: {}, ips: [] }, 'delta', hooks, { maxMessageBytes: Infinity, deltaFromDiff: fromDiff });
  return { s, sent };
}

const secret = (name: string, text: string) => res(name, { name, validation_context: { trusted_ca: { inline_string: text } } });

/** A random snapshot: a random subset of 30 services with random endpoint ports; secrets ROOTCA (sendable) and other (not); plain or composed. */
function randomSnapshot(r: (n: number) => number): EncodedSnapshot {
  const svc = (i: number): SvcSpec => ({ host: `s${i}.ns.svc.cluster.local`, port: 80, backends: [{ subset: '', port: 1000 + r(3), weight: 100 }] });
  const pick = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k).filter(() => r(4) !== 0).map(svc);
  const secrets = new Map<string, XdsResource>([['ROOTCA', secret('ROOTCA', `ca-${r(3)}`)], ...(r(2) ? [['other', secret('other', `o-${r(3)}`)] as const] : [])]);
  if (r(2) === 0) {
    const all = grpcResources([...pick(0, 30)]);
    (all as Map<TypeUrl, ReadonlyMap<string, XdsResource>>).set(SDS, secrets);
    return buildSnapshot(all).snapshot!;
  }
  const shared = buildSnapshot(grpcResources(pick(0, 20))).snapshot!;
  const own: ProxyResources = new Map([...grpcResources(pick(20, 30))].map(([t, m]) => [t, t === SDS ? secrets : m] as const));
  const c = composeSnapshot(shared, own);
  if (!c.snapshot) throw new Error(c.errors.join('; '));
  return c.snapshot;
}

const answer = (r: DeltaResponse) => ({ type: r.type_url, resources: r.resources.map((x) => `${x.name}@${x.version}`), removed: [...r.removed_resources].sort() });

test('random snapshots and subscriptions: answers from the difference equal answers from every resource', (t) => {
  let steps = 0;
  for (let seed = 1; seed <= 150; seed++) {
    const r = rng(seed * 7919);
    const a = stream(true);
    const b = stream(false);
    const both = (fn: (x: ReturnType<typeof stream>) => void) => [a, b].forEach(fn);
    const first = randomSnapshot(r);
    both((x) => (x.s.snapshot = first));
    // CDS and SDS by wildcard, EDS by name (with names that may not exist).
    const edsNames = () => Array.from({ length: 1 + r(5) }, () => clusterName({ host: `s${r(34)}.ns.svc.cluster.local`, port: 80, backends: [] }, ''));
    const initial = edsNames();
    both((x) => {
      x.s.onDeltaRequest({ type_url: CDS });
      x.s.onDeltaRequest({ type_url: SDS });
      x.s.onDeltaRequest({ type_url: EDS, resource_names_subscribe: initial });
    });
    for (let step = 0; step < 25; step++, steps++) {
      const before = [a.sent.length, b.sent.length];
      const what = r(10);
      if (what < 5) {
        const snap = randomSnapshot(r);
        both((x) => x.s.setSnapshot(snap));
      } else if (what < 7) {
        const sub = edsNames();
        both((x) => x.s.onDeltaRequest({ type_url: EDS, resource_names_subscribe: sub }));
      } else if (what < 8) {
        const unsub = edsNames();
        both((x) => x.s.onDeltaRequest({ type_url: EDS, resource_names_unsubscribe: unsub }));
      } else {
        // ACK or NACK each stream's last response.
        const nack = what === 9;
        both((x) => {
          const last = x.sent.at(-1);
          if (last) x.s.onDeltaRequest({ type_url: last.type_url, response_nonce: last.nonce, ...(nack ? { error_detail: { code: 3, message: 'refused' } } : {}) });
        });
      }
      const ga = a.sent.slice(before[0]).map(answer);
      const gb = b.sent.slice(before[1]).map(answer);
      t.deepEqual(ga, gb, `seed ${seed} step ${step} (action ${what})`);
      if (JSON.stringify(ga) !== JSON.stringify(gb)) return;
    }
    t.false(a.sent.some((x) => x.resources.some((y) => y.name === 'other')), 'a secret this stream may not have is never sent');
  }
  t.is(steps, 150 * 25);
});

test('a push that changes one of 2,000 clusters is answered from the difference: nothing is selected, one cluster is sent', (t) => {
  const services = (port: number): SvcSpec[] => Array.from({ length: 2000 }, (_, i) => ({ host: `s${i}.ns.svc.cluster.local`, port: 80, backends: [{ subset: '', port: i === 7 ? port : 1000, weight: 100 }] }));
  const shared1 = buildSnapshot(grpcResources(services(1000))).snapshot!;
  const shared2 = buildSnapshot(grpcResources(services(2000))).snapshot!;
  const own = grpcResources([{ host: 'own.ns.svc.cluster.local', port: 80, backends: [{ subset: '', port: 1, weight: 100 }] }]);
  for (const fromDiff of [true, false]) {
    const { s, sent } = stream(fromDiff);
    let selects = 0;
    const orig = (s as unknown as { select: (...a: unknown[]) => unknown }).select.bind(s);
    (s as unknown as { select: (...a: unknown[]) => unknown }).select = (...a: unknown[]) => (selects++, orig(...a));
    s.snapshot = composeSnapshot(shared1, own).snapshot!;
    s.onDeltaRequest({ type_url: CDS });
    s.onDeltaRequest({ type_url: EDS, resource_names_subscribe: services(1000).map((x) => clusterName(x, '')) });
    t.is(sent.length, 2);
    for (const x of sent.splice(0)) s.onDeltaRequest({ type_url: x.type_url, response_nonce: x.nonce });
    const before = selects;
    s.setSnapshot(composeSnapshot(shared2, own).snapshot!);
    t.deepEqual(sent.map((x) => [x.type_url, x.resources.map((y) => y.name)]), [[EDS, [clusterName(services(2000)[7]!, '')]]]);
    if (fromDiff) t.is(selects - before, 0, 'from the difference: no select');
    else t.true(selects - before >= 2, 'compared with every resource: a select per type');
  }
});

test('a subscribed resource the proxy refused, then gone from the snapshot, is reported removed once, both ways', (t) => {
  const svc = (i: number, port: number): SvcSpec => ({ host: `s${i}.ns.svc.cluster.local`, port: 80, backends: [{ subset: '', port, weight: 100 }] });
  const snap = (...specs: SvcSpec[]) => buildSnapshot(grpcResources(specs)).snapshot!;
  const names = [clusterName(svc(1, 0), ''), clusterName(svc(2, 0), '')];
  const runs = [true, false].map((fromDiff) => {
    const { s, sent } = stream(fromDiff);
    const ack = (nack = false) => {
      const last = sent.at(-1)!;
      s.onDeltaRequest({ type_url: EDS, response_nonce: last.nonce, ...(nack ? { error_detail: { code: 3, message: 'refused' } } : {}) });
    };
    s.snapshot = snap(svc(1, 1), svc(2, 1));
    s.onDeltaRequest({ type_url: EDS, resource_names_subscribe: names });
    ack();
    s.setSnapshot(snap(svc(1, 1), svc(2, 2)));
    ack(true); // s2 at port 2 refused
    s.setSnapshot(snap(svc(1, 3), svc(2, 2)));
    ack();
    s.setSnapshot(snap(svc(1, 3)));
    s.setSnapshot(snap(svc(1, 4)));
    return sent.map(answer);
  });
  t.deepEqual(runs[0], runs[1]);
  const removals = runs[0]!.filter((a) => a.removed.includes(names[1]!));
  t.is(removals.length, 1, JSON.stringify(runs[0]));
});
