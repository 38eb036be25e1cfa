// Wiring of the rollout runner into `meshcd serve`: state store, admin
// routes, and the function that serves a config with the rollout overlay.
// Kept here so serve.ts has one rollout block.
// Imports: src/admin, src/api, src/registry, src/state, src/xds/server (types), ./*.

import type { AdminServer } from '../admin/server.js';
import type { ConfigSet, ProxyInfo, RolloutOverlay, ServiceIndex } from '../api/types.js';
import type { CanaryEvents } from './config-canary.js';
import { buildServiceIndex } from '../registry/config.js';
import { StateStore } from '../state/store.js';
import type { AnalysisProvider, WriteBack } from './contracts.js';
import { registerRolloutRoutes } from './admin.js';
import { RolloutRunner, type RolloutStore, type WebhookPayload, type WebhookSender } from './runner.js';
import { PrometheusProvider } from './analysis/provider.js';
import { GitWriteBack } from './writeback.js';
import { WebhookSender as HttpWebhookSender } from './webhooks.js';
import { readSecret, type SecretRef } from '../source/secret.js';
import type { SourceSpec } from '../source/spec.js';

/** The admin token from a file (one reader for serve and every CLI client: src/admin/token.ts). */
export { readTokenFile } from '../admin/token.js';

/** `serve`'s rollout flags (names as commander gives them). */
export interface RolloutFlags {
  rolloutWebhookSecretFile?: string;
  rolloutWebhookSecretEnv?: string;
  writeBackAuthor?: string;
  /** Seconds a config canary waits, after a restart or a change of leader, for cohort members to reconnect. */
  canaryReconnectGrace?: string;
}

export const DEFAULT_AUTHOR = { name: 'meshcd', email: 'meshcd@localhost' };

/** `Name <email>` → author; errors name the flag. */
export function parseAuthor(text: string, flag = '--write-back-author'): { name: string; email: string } {
  const m = /^\s*([^<>\n]*?)\s*<([^<>\s@]+@[^<>\s@]+)>\s*$/.exec(text);
  if (!m || !m[1]) throw new Error(`${flag}: "${text.slice(0, 80)}" is not "Name <email@host>"`);
  if (m[1].length > 200) throw new Error(`${flag}: the name is longer than 200 characters`);
  return { name: m[1], email: m[2]! };
}

/**
 * The webhook HMAC secret (a file or an environment variable, never a flag
 * value) and the write-back author. The secret is read once here so a
 * missing file fails at start; the sender reads it again on each call, so a
 * rotation is picked up. Errors name the flag, never the secret.
 */
export async function rolloutFlags(opts: RolloutFlags): Promise<{ webhookSecret?: SecretRef; author: { name: string; email: string }; resumeGraceMs?: number }> {
  if (opts.rolloutWebhookSecretFile && opts.rolloutWebhookSecretEnv) throw new Error('--rollout-webhook-secret-file and --rollout-webhook-secret-env: give one of them');
  const ref: SecretRef | undefined = opts.rolloutWebhookSecretFile ? { file: opts.rolloutWebhookSecretFile } : opts.rolloutWebhookSecretEnv ? { env: opts.rolloutWebhookSecretEnv } : undefined;
  if (ref) {
    const flag = ref.file ? `--rollout-webhook-secret-file ${ref.file}` : `--rollout-webhook-secret-env ${ref.env}`;
    const secret = await readSecret(ref, flag);
    if (secret.length < 16) throw new Error(`${flag}: the secret must be at least 16 characters`);
  }
  const grace = opts.canaryReconnectGrace;
  if (grace !== undefined && (!/^\d{1,4}$/.test(grace) || Number(grace) > 3600)) throw new Error(`--canary-reconnect-grace: "${grace.slice(0, 20)}" is not a whole number of seconds from 0 to 3600`);
  return { ...(ref ? { webhookSecret: ref } : {}), author: opts.writeBackAuthor ? parseAuthor(opts.writeBackAuthor) : DEFAULT_AUTHOR, ...(grace !== undefined ? { resumeGraceMs: Number(grace) * 1000 } : {}) };
}

export interface RolloutWiring {
  runner: RolloutRunner;
  accepted(config: ConfigSet, revisions: readonly { source: string; commit: string; id: string }[]): Promise<void>;
  stop(): void;
}

/** A file named relative to a source's folder, as a path from the root of the source's repository. */
export function repositoryPath(source: SourceSpec | undefined, file: string): string {
  return source?.path ? `${source.path}/${file}` : file;
}

export async function wireRollouts(opts: {
  admin: AdminServer;
  stateDir: string;
  update: (inputs: { config: ConfigSet; index: ServiceIndex; overlay: RolloutOverlay }, revisionId: string) => void;
  prometheus?: string;
  analysis?: AnalysisProvider;
  writeBack?: WriteBack;
  webhooks?: WebhookSender;
  /** The sources (for Git write-back: clone, branch, credentials). */
  sources?: readonly SourceSpec[];
  /** HMAC secret for every Rollout webhook. */
  webhookSecret?: SecretRef;
  /** Author and committer of write-back commits. */
  author?: { name: string; email: string };
  /** Fetch a source now (after a write-back pushed to it), so Git's new state is seen without waiting for the next poll. */
  refreshSource?: (name: string) => void;
  /**
   * Config canaries: serve's SnapshotCache (its canary revision, affected
   * proxies, each proxy's revision) and the xDS server's callbacks.
   */
  canary?: {
    setCanary(canary: { id: string; inputs: { config: ConfigSet; index: ServiceIndex; overlay: RolloutOverlay } } | undefined, inCohort: (proxy: ProxyInfo) => boolean): void;
    affected(): Promise<{ proxy: ProxyInfo }[]>;
    proxies(): { proxy: ProxyInfo; revision: string | undefined; cohort: string }[];
    refused(revision: string): string[];
    subscribe(events: CanaryEvents): () => void;
  };
  /** The config at earlier accepted revisions (Reconciler.configAt): a config canary's revision in force before it, after a restart. */
  loadConfig?: (revisions: readonly { source: string; commit: string }[]) => Promise<ConfigSet>;
  /** After a restart or a change of leader, how long a config canary waits for cohort members to reconnect (default 30 s). */
  resumeGraceMs?: number;
  /** Replicated (src/cluster): states in the cluster, and only the leader steps. */
  store?: RolloutStore;
  isLeader?: () => boolean;
}): Promise<RolloutWiring> {
  const sources = new Map((opts.sources ?? []).map((s) => [s.name, s]));
  const analysis = opts.analysis ?? new PrometheusProvider();
  const writeBack = opts.writeBack ?? new GitWriteBack({ stateDir: opts.stateDir, source: (name) => (sources.get(name)?.kind === 'git' ? sources.get(name) : undefined) });
  const webhooks = opts.webhooks ?? httpWebhooks(new HttpWebhookSender(opts.webhookSecret ? { secret: opts.webhookSecret } : {}));
  // One index per config served (the current revision's and, during a config canary, the new one's).
  const indexes = new WeakMap<ConfigSet, ServiceIndex>();
  const indexOf = (config: ConfigSet): ServiceIndex => {
    let index = indexes.get(config);
    if (!index) indexes.set(config, (index = buildServiceIndex(config)));
    return index;
  };
  const port = opts.canary;
  const runner = new RolloutRunner({
    store: opts.store ?? new StateStore(opts.stateDir),
    ...(opts.isLeader ? { isLeader: opts.isLeader } : {}),
    apply: (config, overlay, id) => opts.update({ config, index: indexOf(config), overlay }, id),
    ...(port
      ? {
          canary: {
            set: (c, inCohort) => port.setCanary(c && { id: c.id, inputs: { config: c.config, index: indexOf(c.config), overlay: c.overlay } }, inCohort),
            affected: () => port.affected(),
            proxies: () => port.proxies(),
            refused: (revision) => port.refused(revision),
            subscribe: (events) => port.subscribe(events),
          },
        }
      : {}),
    ...(opts.prometheus ? { prometheus: opts.prometheus } : {}),
    analysis,
    writeBack,
    webhooks,
    ...(opts.author ? { author: opts.author } : {}),
    ...(opts.refreshSource ? { refreshSource: opts.refreshSource } : {}),
    ...(opts.loadConfig ? { loadConfig: opts.loadConfig } : {}),
    ...(opts.resumeGraceMs !== undefined ? { resumeGraceMs: opts.resumeGraceMs } : {}),
    // A resource's origin is relative to its source's folder (`URL#ref:path`); a revert works on repository paths.
    repoPath: (source, file) => repositoryPath(sources.get(source), file),
  });
  await runner.start();
  registerRolloutRoutes(opts.admin, runner);
  return { runner, accepted: (c, r) => runner.accepted(c, r), stop: () => runner.stop() };
}

/** The runner's webhook seam over the HTTP sender (Flagger-compatible payload, HMAC-signed when a secret is set). */
function httpWebhooks(sender: HttpWebhookSender): WebhookSender {
  return {
    async send(hook, p: WebhookPayload) {
      const [namespace = '', name = p.rollout] = p.rollout.split('/');
      const r = await sender.send(hook, { name, namespace, phase: p.phase, stepIndex: p.stepIndex, canaryWeight: p.canaryWeight, message: p.message });
      return r.ok ? { ok: true } : { ok: false, message: r.error };
    },
  };
}
