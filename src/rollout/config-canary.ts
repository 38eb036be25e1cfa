// The runner's half of a config canary (strategy: proxies): what the cache
// serves, who is in the cohort, and whether the cohort ACKed. The decisions
// stay in the controller (configServingOf, setProxies) and in cohort.ts
// (selectCohort); this file performs them against a CanaryPort — serve gives
// it the SnapshotCache's two revisions (update = the revision in force
// before the walk, setCanary = the new one for the cohort) and the xDS
// server's per-proxy ACK/NACK callbacks:
//   - a walk starts: the config in force before it ("stable") stays the
//     cache's current revision; the new one becomes the canary revision,
//     served to no one until the first cohort is selected;
//   - SelectCohort: the cache's affected proxies (whose snapshot differs
//     between the two revisions) → selectCohort → `cohortSelected`; the
//     cache then moves exactly the cohort onto the new revision;
//   - every response the server sends and every ACK/NACK is tracked per
//     proxy: when each member has ACKed everything it was sent from the new
//     revision → `cohortAcked`; any NACK of the new revision → `nack` (the
//     controller rolls back at once with the proxy's text);
//   - Succeeded: the new revision becomes current for all; Failed: the old
//     one stays current for all until Git states it again.
// Across a restart of meshcd: the runner persists the stable revisions' ids
// with the rollout states (before the canary is served) and, after a
// restart, loads the config at them (the Reconciler's configAt: a Git
// commit from the local clone, a folder's saved copy) and hands it to
// `restoreStable`, so the cohort keeps the new revision and everyone else
// the old one. A cohort that was still ACKing is tracked again (`resume`);
// its members that have not reconnected yet count as waited on for a grace
// period. Only when the stable revisions cannot be read does a restarted
// meshcd serve the new revision to every proxy, and it says so.
// Imports: src/api (types), ./cohort, ./controller (types, pure functions).

import type { ConfigSet, ProxyInfo, RolloutOverlay } from '../api/types.js';
import type { Logger } from '../util/log.js';
import type { RolloutSpec } from './contracts.js';
import { inCohort, podOf, selectCohort, type CohortProxy, type CohortSize } from './cohort.js';
import { configServingOf, type Observation, type RolloutState } from './controller.js';

/** What an xDS event tells the canary: which proxy, which type, which response, from which revision. */
export interface ProxyEvent {
  proxy: ProxyInfo;
  type: string;
  nonce: string;
  revision: string | undefined;
}

export interface CanaryEvents {
  responseSent?(e: ProxyEvent): void;
  ack?(e: ProxyEvent): void;
  nack?(e: ProxyEvent & { error: string }): void;
}

/** The cache and server as a config canary needs them (serve: SnapshotCache + XdsEvents). */
export interface CanaryPort {
  /** Serve `canary` to the proxies `inCohort` accepts (the rest keep the current revision); undefined: everyone on current. */
  set(canary: { config: ConfigSet; overlay: RolloutOverlay; id: string } | undefined, inCohort: (proxy: ProxyInfo) => boolean): void;
  /** Connected proxies whose snapshot differs between the two revisions. */
  affected(): Promise<{ proxy: ProxyInfo }[]>;
  /** Connected proxies and the revision each is served. */
  proxies(): { proxy: ProxyInfo; revision: string | undefined; cohort: string }[];
  /** Why the cache refused snapshots built from this revision (its strict checks: what Envoy would NACK), if it did. */
  refused(revision: string): string[];
  subscribe(events: CanaryEvents): () => void;
}

export interface Served {
  config: ConfigSet;
  overlay: RolloutOverlay;
  id: string;
}

/** One source's revision, as the runner persists it. */
export interface RevisionRef {
  source: string;
  commit: string;
  id: string;
}

/** The config in force before a walk: what everyone outside the cohort is served. */
export interface Stable {
  config: ConfigSet;
  /** The revision ids joined with ',' (what proxy-status shows). */
  id: string;
  /** Each source's revision (persisted; absent outside serve's runner). */
  revisions?: readonly RevisionRef[];
}

/** The walking config canary the runner serves by (at most one drives the cache). */
export interface Driving {
  key: string;
  spec: RolloutSpec;
  state: RolloutState;
}

const SHORT_TYPE: Record<string, string> = { Listener: 'LDS', RouteConfiguration: 'RDS', Cluster: 'CDS', ClusterLoadAssignment: 'EDS', Secret: 'SDS' };
const shortType = (url: string) => SHORT_TYPE[url.slice(url.lastIndexOf('.') + 1)] ?? url;
const cohortProxy = (p: ProxyInfo): CohortProxy => ({ id: p.id, namespace: p.namespace, labels: p.labels });

interface Tracking {
  key: string;
  generation: number;
  canaryId: string;
  members: string[];
  reported: boolean;
  /** After a restart: until then, members that have not reconnected are waited on too. */
  graceUntil?: number;
}

export class ConfigCanaryDriver {
  private stable: Stable | undefined;
  private canarySet: string | undefined;
  private tracking: Tracking | undefined;
  private nacked = new Set<string>();
  /**
   * Per proxy: per type, the last response sent and not yet answered (its
   * nonce and revision; a newer response of a type supersedes the older one,
   * whose late ACK the server drops as stale), and the last revision it
   * ACKed with nothing outstanding.
   */
  private readonly sent = new Map<string, Map<string, { nonce: string; revision: string | undefined }>>();
  private readonly settled = new Map<string, string | undefined>();
  private affectedNow: CohortProxy[] = [];
  private warnedRestart = false;
  private poll: NodeJS.Timeout | undefined;
  private grace: NodeJS.Timeout | undefined;
  private servedIds: { inForce: string; canary?: string } | undefined;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly port: CanaryPort,
    private readonly observe: (key: string, o: Observation) => void,
    private readonly log: Logger,
  ) {
    this.unsubscribe = port.subscribe({
      responseSent: (e) => this.outstanding(e.proxy.id).set(e.type, { nonce: e.nonce, revision: e.revision }),
      ack: (e) => this.answered(e, undefined),
      nack: (e) => this.answered(e, e.error),
    });
  }

  close(): void {
    this.unsubscribe();
    if (this.poll) clearInterval(this.poll);
    if (this.grace) clearTimeout(this.grace);
  }

  /** Before a new revision is stepped: the config in force now is the stable one of a walk that starts with it. */
  revision(previous: Stable | undefined, walking: boolean): void {
    if (!walking && previous) this.stable = previous;
  }

  /** The revisions everyone outside the cohort is on (persisted by the runner while a canary drives). */
  stableRevisions(): { id: string; revisions: readonly RevisionRef[] } | undefined {
    return this.stable?.revisions?.length ? { id: this.stable.id, revisions: this.stable.revisions } : undefined;
  }

  hasStable(): boolean {
    return this.stable !== undefined;
  }

  /** After a restart: the config at the persisted stable revisions (the runner loaded it). */
  restoreStable(stable: Stable): void {
    this.stable = stable;
    this.warnedRestart = false;
  }

  /** Whether a cohort of this walk is being selected or tracked (else a restart lost it: the runner resumes it). */
  tracks(key: string, generation: number): boolean {
    return this.tracking?.key === key && this.tracking.generation === generation;
  }

  /** After a restart, a cohort that had ACKed: no gate to open, but a NACK of the new revision is still reported. */
  watch(key: string, generation: number, members: string[], canaryId: string): void {
    this.tracking = { key, generation, canaryId, members, reported: true };
    this.nacked.delete(key);
  }

  /**
   * After a restart, a cohort that was selected but had not ACKed yet: track
   * its members again. For `graceMs`, a member that has not reconnected yet
   * is waited on too (else an empty room would pass the gate).
   */
  resume(key: string, generation: number, members: string[], canaryId: string, graceMs: number): void {
    this.tracking = { key, generation, canaryId, members, reported: false, graceUntil: Date.now() + graceMs };
    this.nacked.delete(key);
    if (this.grace) clearTimeout(this.grace);
    this.grace = setTimeout(() => {
      this.grace = undefined;
      this.check();
    }, graceMs + 10);
    this.grace.unref?.();
    this.log.info({ rollout: key, cohort: members.length, graceMs }, 'config canary: tracking the cohort\'s ACKs again after a restart');
    if (!this.poll) this.poll = setInterval(() => this.checkRefused(), 250);
    this.check();
  }

  /** Serve the config in force for this state (see the header); `apply` sets the cache's current revision. */
  serve(driving: Driving | undefined, current: Served, apply: (s: Served) => void): void {
    const serving = driving ? configServingOf(driving.state) : undefined;
    if (!driving || !serving || serving.serve === 'new') {
      this.stable = undefined;
      this.servedIds = { inForce: current.id };
      apply(current);
      this.setCanary(undefined);
      return;
    }
    if (!this.stable) {
      if (!this.warnedRestart) this.log.error({ rollout: driving.key }, 'config canary: the revision in force before it could not be read after a restart of meshcd; every proxy is served the new revision');
      this.warnedRestart = true;
      this.servedIds = { inForce: current.id };
      apply(current);
      this.setCanary(undefined);
      return;
    }
    apply({ config: this.stable.config, overlay: current.overlay, id: this.stable.id });
    this.servedIds = { inForce: this.stable.id, ...(serving.serve === 'canary' ? { canary: current.id } : {}) };
    if (serving.serve === 'old') return this.setCanary(undefined);
    const filter = driving.spec.cohort;
    this.setCanary(current, serving.threshold, (p) => inCohort(cohortProxy(p), serving.threshold, filter));
  }

  /** The revisions served now: the one in force (everyone outside the cohort) and, during a walk, the cohort's (status). */
  served(): { inForce: string; canary?: string } | undefined {
    return this.servedIds;
  }

  private setCanary(canary: Served | undefined, threshold?: number, pred?: (p: ProxyInfo) => boolean): void {
    const key = canary ? `${canary.id} ${threshold}` : undefined;
    if (key === this.canarySet) return;
    this.canarySet = key;
    this.port.set(canary, pred ?? (() => false));
    if (this.tracking) this.check();
  }

  /** A setProxies step: the affected proxies now, the cohort among them (cohort.ts), reported as `cohortSelected`. */
  async select(key: string, spec: RolloutSpec, generation: number, size: CohortSize, previous: number, canaryId: string): Promise<void> {
    const started = performance.now();
    const affected = (await this.port.affected()).map((a) => cohortProxy(a.proxy));
    const tookMs = Math.round(performance.now() - started);
    if (tookMs > 1000) this.log.warn({ rollout: key, affected: affected.length, ms: tookMs }, `config canary: finding the affected proxies took ${tookMs} ms`);
    this.affectedNow = affected;
    const c = selectCohort(affected, size, spec.cohort, previous);
    this.tracking = { key, generation, canaryId, members: c.members, reported: false };
    this.nacked.delete(key);
    this.log.info({ rollout: key, affected: affected.length, eligible: c.eligible, cohort: c.members.length }, 'config canary: cohort selected');
    this.observe(key, { kind: 'cohortSelected', generation, threshold: c.threshold, members: c.members, eligible: c.eligible });
    // The cache builds the cohort's snapshots in slices after this; one it refuses never reaches a proxy, so no ACK would come.
    if (!this.poll) this.poll = setInterval(() => this.checkRefused(), 250);
  }

  private checkRefused(): void {
    const t = this.tracking;
    if (!t || t.reported || this.nacked.has(t.key)) {
      if (this.poll) clearInterval(this.poll);
      this.poll = undefined;
      return;
    }
    const errors = this.port.refused(t.canaryId);
    if (!errors.length) return;
    this.nacked.add(t.key);
    this.log.warn({ rollout: t.key, errors: errors.slice(0, 5) }, 'config canary: the new revision\'s snapshot was refused');
    this.observe(t.key, { kind: 'refused', generation: t.generation, error: errors.slice(0, 3).join('; ') });
  }

  /** Template arguments of a config canary: the cohort's pods and the rest's. */
  pods(members: readonly string[]): { cohort: string[]; rest: string[] } {
    const inIt = new Set(members);
    return { cohort: members.map(podOf), rest: this.affectedNow.filter((p) => !inIt.has(p.id)).map((p) => podOf(p.id)) };
  }

  /** Which revision each connected proxy is on (status). */
  proxies(): { proxy: string; revision: string | undefined; cohort: string }[] {
    return this.port.proxies().map((p) => ({ proxy: p.proxy.id, revision: p.revision, cohort: p.cohort }));
  }

  /** Members still waited on (status). */
  pending(): string[] {
    const t = this.tracking;
    if (!t || t.reported) return [];
    const connected = new Set(this.port.proxies().map((p) => p.proxy.id));
    const waitForAbsent = t.graceUntil !== undefined && Date.now() < t.graceUntil;
    return t.members.filter((id) => (connected.has(id) || waitForAbsent) && !this.done(id, t.canaryId));
  }

  private outstanding(proxy: string): Map<string, { nonce: string; revision: string | undefined }> {
    let m = this.sent.get(proxy);
    if (!m) this.sent.set(proxy, (m = new Map()));
    return m;
  }

  private answered(e: ProxyEvent, error: string | undefined): void {
    const m = this.outstanding(e.proxy.id);
    if (m.get(e.type)?.nonce === e.nonce) m.delete(e.type);
    if (error !== undefined) {
      const t = this.tracking;
      if (t && e.revision === t.canaryId && !this.nacked.has(t.key)) {
        this.nacked.add(t.key);
        this.log.warn({ rollout: t.key, proxy: e.proxy.id, type: shortType(e.type) }, `config canary: NACK of the new revision: ${error}`);
        this.observe(t.key, { kind: 'nack', generation: t.generation, proxy: e.proxy.id, type: shortType(e.type), error });
      }
      return;
    }
    if (![...m.values()].some((r) => r.revision === e.revision)) this.settled.set(e.proxy.id, e.revision);
    if (this.tracking) this.check();
  }

  private done(proxy: string, canaryId: string): boolean {
    return this.settled.get(proxy) === canaryId && ![...(this.sent.get(proxy)?.values() ?? [])].some((r) => r.revision === canaryId);
  }

  /** Report `cohortAcked` once every connected member has ACKed the new revision. */
  private check(): void {
    const t = this.tracking;
    if (!t || t.reported || this.canarySet === undefined) return;
    if (this.pending().length > 0) return;
    t.reported = true;
    this.observe(t.key, { kind: 'cohortAcked', generation: t.generation });
  }
}
