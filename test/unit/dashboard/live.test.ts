import test from 'ava';
import { EventEmitter } from 'node:events';
import type { ServerEvent } from '../../../src/admin/server.js';
import { LiveEvents } from '../../../src/dashboard/live.js';

function fakeRollouts() {
  const listeners = new Set<(r: { namespace: string; name: string; phase: string; stepIndex: number; canaryWeight: number }) => void>();
  return {
    onChange(l: (r: { namespace: string; name: string; phase: string; stepIndex: number; canaryWeight: number }) => void) {
      listeners.add(l);
      return () => void listeners.delete(l);
    },
    emit: (r: { namespace: string; name: string; phase: string; stepIndex: number; canaryWeight: number }) => listeners.forEach((l) => l(r)),
    size: () => listeners.size,
  };
}

test('reconciler and rollout events reach every subscriber as small named events with increasing ids', (t) => {
  const reconciler = new EventEmitter();
  const rollouts = fakeRollouts();
  const live = new LiveEvents({ reconciler, rollouts });
  const a: ServerEvent[] = [];
  const b: ServerEvent[] = [];
  const offA = live.subscribe((e) => a.push(e));
  live.subscribe((e) => b.push(e));
  reconciler.emit('rejected', { source: 'platform', revision: 'main@sha1:1', diagnostics: [{ severity: 'error' }, { severity: 'warning' }, { severity: 'error' }] });
  reconciler.emit('accepted', { revisions: [{ id: 'main@sha1:2' }], config: { huge: true } });
  rollouts.emit({ namespace: 'ns', name: 'r', phase: 'Paused', stepIndex: 2, canaryWeight: 25 });
  offA();
  reconciler.emit('fetch-failed', { source: 'platform', message: 'cannot reach the server' });
  t.deepEqual(a.map((e) => e.event), ['hello', 'source', 'source', 'rollout']);
  t.deepEqual(a[1]!.data, { kind: 'rejected', source: 'platform', revision: 'main@sha1:1', errors: 2 });
  t.deepEqual(a[2]!.data, { kind: 'accepted', revisions: ['main@sha1:2'] }, 'names what changed, not the config');
  t.deepEqual(a[3]!.data, { namespace: 'ns', name: 'r', phase: 'Paused', stepIndex: 2, canaryWeight: 25 });
  t.deepEqual(b.map((e) => e.event), ['hello', 'source', 'source', 'rollout', 'source']);
  const ids = b.slice(1).map((e) => Number(e.id));
  t.deepEqual(ids, [...ids].sort((x, y) => x - y));
  live.close();
  t.is(reconciler.listenerCount('accepted'), 0);
  t.is(rollouts.size(), 0);
});

test('the xDS server\'s callbacks (ACKs, NACKs, streams) become coalesced proxies events, counted only while someone listens', async (t) => {
  type Cb = Parameters<NonNullable<ConstructorParameters<typeof LiveEvents>[0]['xdsEvents']>['subscribe']>[0];
  const subs = new Set<Cb>();
  const xdsEvents = { subscribe: (cb: Cb) => (subs.add(cb), () => void subs.delete(cb)) };
  const live = new LiveEvents({ xdsEvents, coalesceMs: 20 });
  const proxy = { id: 'sidecar~10.0.0.1~a.ns~ns.svc.cluster.local' };
  for (const s of subs) s.ack?.({ proxy, type: 'cds' });
  const got: ServerEvent[] = [];
  live.subscribe((e) => got.push(e));
  for (const s of subs) {
    s.streamOpened?.({ proxy });
    s.ack?.({ proxy, type: 'cds' });
    s.ack?.({ proxy, type: 'lds' });
    s.nack?.({ proxy, type: 'rds', error: 'bad route' });
  }
  for (let i = 0; i < 500 && !got.some((e) => e.event === 'proxies'); i++) await new Promise((r) => setTimeout(r, 10));
  t.deepEqual(got.filter((e) => e.event === 'proxies').map((e) => e.data), [{ opened: 1, closed: 0, acks: 2, nacks: 1, lastNack: { proxy: proxy.id, type: 'rds', error: 'bad route' } }]);
  live.close();
  t.is(subs.size, 0);
});
