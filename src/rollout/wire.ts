// Wiring of the rollout runner into `meshcd serve`: state store, admin
// routes, and the function that serves a config with the rollout overlay.
// Kept here so serve.ts has one rollout block.
// Imports: src/admin, src/api, src/registry, src/state, src/xds/server (types), ./*.

import { readFile } from 'node:fs/promises';
import type { AdminServer } from '../admin/server.js';
import type { ConfigSet, RolloutOverlay, ServiceIndex } from '../api/types.js';
import { buildServiceIndex } from '../registry/config.js';
import { StateStore } from '../state/store.js';
import type { AnalysisProvider, WriteBack } from './contracts.js';
import { registerRolloutRoutes } from './admin.js';
import { RolloutRunner, type RolloutStore, type WebhookPayload, type WebhookSender } from './runner.js';
import { PrometheusProvider } from './analysis/provider.js';
import { GitWriteBack } from './writeback.js';
import { WebhookSender as HttpWebhookSender } from './webhooks.js';
import type { SecretRef } from '../source/secret.js';
import type { SourceSpec } from '../source/spec.js';

const MAX_TOKEN_BYTES = 4096;

/** The admin token from a file: one line, trimmed; errors name the flag, never the content. */
export async function readTokenFile(file: string, flag: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (text.length > MAX_TOKEN_BYTES) throw new Error(`${flag}: ${file} is larger than ${MAX_TOKEN_BYTES} bytes; it should hold one token`);
  const token = text.trim();
  if (!token || /\s/.test(token)) throw new Error(`${flag}: ${file} must hold one token on one line`);
  return token;
}

export interface RolloutWiring {
  runner: RolloutRunner;
  accepted(config: ConfigSet, revisions: readonly { source: string; commit: string; id: string }[]): Promise<void>;
  stop(): void;
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
  /** Replicated (src/cluster): states in the cluster, and only the leader steps. */
  store?: RolloutStore;
  isLeader?: () => boolean;
}): Promise<RolloutWiring> {
  const sources = new Map((opts.sources ?? []).map((s) => [s.name, s]));
  const analysis = opts.analysis ?? new PrometheusProvider();
  const writeBack = opts.writeBack ?? new GitWriteBack({ stateDir: opts.stateDir, source: (name) => (sources.get(name)?.kind === 'git' ? sources.get(name) : undefined) });
  const webhooks = opts.webhooks ?? httpWebhooks(new HttpWebhookSender(opts.webhookSecret ? { secret: opts.webhookSecret } : {}));
  let indexed: { config: ConfigSet; index: ServiceIndex } | undefined;
  const runner = new RolloutRunner({
    store: opts.store ?? new StateStore(opts.stateDir),
    ...(opts.isLeader ? { isLeader: opts.isLeader } : {}),
    apply: (config, overlay, id) => {
      if (indexed?.config !== config) indexed = { config, index: buildServiceIndex(config) };
      opts.update({ config, index: indexed.index, overlay }, id);
    },
    ...(opts.prometheus ? { prometheus: opts.prometheus } : {}),
    analysis,
    writeBack,
    webhooks,
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
