// One leader among meshcd's replicas: a coordination.k8s.io/v1 Lease, with
// client-go's leader-election rules. `decide` is the pure rule; LeaderElector
// performs it every retry period.
//
// - No Lease: create it, holding it.
// - Held by us: renew (renewTime = now).
// - Held by another: it has expired when its record (holder, renewTime,
//   transitions) has not changed for a whole lease duration *as measured on
//   our clock since we first saw that record* — never by comparing the
//   holder's timestamps with our clock, so clock skew cannot elect two.
// - Released (no holder): take it.
// Updates carry the resourceVersion read, so of two replicas taking over at
// once the API server lets exactly one win (409 for the other).
// A leader that cannot renew for `renewDeadline` steps down before its lease
// can expire for the others; on a clean stop it releases the Lease so a
// follower takes over at its next retry.

import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import * as k8s from '@kubernetes/client-node';
import { logger } from '../util/log.js';
import { metric } from '../util/metrics.js';
import { describeKubeError } from '../registry/kubernetes/discovery.js';
import { ClusterClient, httpStatus, MANAGED_BY } from './kube.js';

export interface LeaseRecord {
  holder: string;
  renewTime?: string;
  durationSeconds?: number;
  transitions: number;
}

/** What we saw last and when (our clock, ms). */
export interface Observation {
  key: string;
  at: number;
}

export type LeaseDecision = { kind: 'create' } | { kind: 'renew' } | { kind: 'takeover'; from: string } | { kind: 'wait'; leader: string; observed: Observation };

export function recordKey(r: LeaseRecord): string {
  return `${r.holder}|${r.renewTime ?? ''}|${r.transitions}`;
}

/** The client-go rule, pure: what to do with the Lease as read now. */
export function decide(record: LeaseRecord | undefined, self: string, observed: Observation | undefined, now: number, durationMs: number): LeaseDecision {
  if (!record) return { kind: 'create' };
  if (record.holder === self) return { kind: 'renew' };
  if (!record.holder) return { kind: 'takeover', from: '' };
  const key = recordKey(record);
  if (!observed || observed.key !== key) return { kind: 'wait', leader: record.holder, observed: { key, at: now } };
  if (now - observed.at >= durationMs) return { kind: 'takeover', from: record.holder };
  return { kind: 'wait', leader: record.holder, observed };
}

export interface ElectorOptions {
  name: string;
  /** Default: POD_NAME or the host name, plus a random suffix (two processes on one host differ). */
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  now?: () => number;
}

const leaderGauge = metric('gauge', 'meshcd_leader', '1 when this replica holds the leader Lease', ['lease']);
const transitionsCounter = metric('counter', 'meshcd_leader_transitions_total', 'Times this replica became leader', ['lease']);

export class LeaderElector extends EventEmitter {
  readonly identity: string;
  private leading = false;
  private observed: Observation | undefined;
  private lastRenew = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> = Promise.resolve();
  private readonly durationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private readonly now: () => number;
  private readonly log = logger('leader');
  /** The holder we last saw (ourselves when leading). */
  leader = '';

  constructor(private readonly client: ClusterClient, private readonly o: ElectorOptions) {
    super();
    this.identity = o.identity ?? `${process.env.POD_NAME || hostname()}_${randomBytes(4).toString('hex')}`;
    this.durationMs = o.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = o.renewDeadlineMs ?? 10_000;
    this.retryMs = o.retryPeriodMs ?? 2_000;
    this.now = o.now ?? Date.now;
    if (!(this.retryMs < this.renewDeadlineMs && this.renewDeadlineMs < this.durationMs)) throw new Error('leader election: retry period < renew deadline < lease duration is required');
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.stopped = false;
    this.tick();
  }

  private tick(): void {
    this.running = this.attempt().finally(() => {
      if (!this.stopped) {
        this.timer = setTimeout(() => this.tick(), this.retryMs);
        this.timer.unref?.();
      }
    });
  }

  private record(lease: k8s.V1Lease): LeaseRecord {
    const s = lease.spec ?? {};
    const renew = s.renewTime as unknown;
    return {
      holder: s.holderIdentity ?? '',
      ...(renew ? { renewTime: renew instanceof Date ? renew.toISOString() : String(renew) } : {}),
      ...(s.leaseDurationSeconds ? { durationSeconds: s.leaseDurationSeconds } : {}),
      transitions: s.leaseTransitions ?? 0,
    };
  }

  private spec(transitions: number, acquire: boolean, previous?: k8s.V1LeaseSpec): k8s.V1LeaseSpec {
    // MicroTime: the API server wants six fractional digits.
    const now = new k8s.V1MicroTime(this.now());
    return {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.durationMs / 1000),
      acquireTime: acquire ? now : previous?.acquireTime ?? now,
      renewTime: now,
      leaseTransitions: transitions,
    };
  }

  private async attempt(): Promise<void> {
    const ns = this.client.namespace;
    const name = this.o.name;
    let lease: k8s.V1Lease | undefined;
    try {
      lease = await this.client.coordination.readNamespacedLease({ namespace: ns, name });
    } catch (err) {
      if (httpStatus(err) !== 404) return this.failed(`read Lease ${ns}/${name}: ${describeKubeError(err)}`);
    }
    const d = decide(lease ? this.record(lease) : undefined, this.identity, this.observed, this.now(), this.durationMs);
    try {
      switch (d.kind) {
        case 'create':
          await this.client.coordination.createNamespacedLease({ namespace: ns, body: { metadata: { name, namespace: ns, labels: { ...MANAGED_BY } }, spec: this.spec(0, true) } });
          return this.acquired('created');
        case 'renew':
          await this.client.coordination.replaceNamespacedLease({ namespace: ns, name, body: { ...lease!, spec: this.spec(lease!.spec?.leaseTransitions ?? 0, false, lease!.spec) } });
          this.lastRenew = this.now();
          if (!this.leading) return this.acquired('resumed');
          return;
        case 'takeover':
          await this.client.coordination.replaceNamespacedLease({ namespace: ns, name, body: { ...lease!, spec: this.spec((lease!.spec?.leaseTransitions ?? 0) + 1, true) } });
          return this.acquired(d.from ? `took over from ${d.from}` : 'took the released lease');
        case 'wait':
          this.observed = d.observed;
          this.follow(d.leader);
          return;
      }
    } catch (err) {
      // 409: another replica wrote first; we are not the leader this round.
      if (httpStatus(err) === 409) {
        this.observed = undefined;
        if (this.leading && this.now() - this.lastRenew > this.renewDeadlineMs) this.stepDown('lost the Lease to a concurrent update');
        return;
      }
      return this.failed(`${d.kind} Lease ${ns}/${name}: ${describeKubeError(err)}`);
    }
  }

  private acquired(how: string): void {
    this.lastRenew = this.now();
    this.leader = this.identity;
    if (this.leading) return;
    this.leading = true;
    leaderGauge.set({ lease: this.o.name }, 1);
    transitionsCounter.inc({ lease: this.o.name });
    this.log.info({ identity: this.identity, how }, 'leading');
    this.emit('leading');
  }

  private follow(leader: string): void {
    if (this.leader !== leader) this.log.info({ leader }, 'following');
    this.leader = leader;
    if (this.leading) this.stepDown(`${leader} holds the Lease`);
  }

  private failed(reason: string): void {
    this.log.warn({ reason }, 'leader election: API call failed');
    if (this.leading && this.now() - this.lastRenew > this.renewDeadlineMs) this.stepDown(`could not renew for ${this.renewDeadlineMs} ms (${reason})`);
  }

  private stepDown(reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    leaderGauge.set({ lease: this.o.name }, 0);
    this.log.warn({ reason }, 'no longer leading');
    this.emit('following');
  }

  /** Stops electing; a leader releases the Lease (empty holder) so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    if (!this.leading) return;
    this.stepDown('stopping');
    try {
      const ns = this.client.namespace;
      const lease = await this.client.coordination.readNamespacedLease({ namespace: ns, name: this.o.name });
      if (lease.spec?.holderIdentity === this.identity) {
        await this.client.coordination.replaceNamespacedLease({ namespace: ns, name: this.o.name, body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } } });
      }
    } catch (err) {
      this.log.warn({ reason: describeKubeError(err) }, 'could not release the Lease; it expires by itself');
    }
  }
}
