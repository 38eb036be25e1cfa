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
import { RolloutRunner, type WebhookSender } from './runner.js';

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
}): Promise<RolloutWiring> {
  let indexed: { config: ConfigSet; index: ServiceIndex } | undefined;
  const runner = new RolloutRunner({
    store: new StateStore(opts.stateDir),
    apply: (config, overlay, id) => {
      if (indexed?.config !== config) indexed = { config, index: buildServiceIndex(config) };
      opts.update({ config, index: indexed.index, overlay }, id);
    },
    ...(opts.prometheus ? { prometheus: opts.prometheus } : {}),
    ...(opts.analysis ? { analysis: opts.analysis } : {}),
    ...(opts.writeBack ? { writeBack: opts.writeBack } : {}),
    ...(opts.webhooks ? { webhooks: opts.webhooks } : {}),
  });
  await runner.start();
  registerRolloutRoutes(opts.admin, runner);
  return { runner, accepted: (c, r) => runner.accepted(c, r), stop: () => runner.stop() };
}
