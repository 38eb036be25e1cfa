// Rollout webhooks: a POST of a Flagger-compatible JSON payload (name,
// namespace, phase, type, checksum, metadata) plus meshcd's step and canary
// weight, signed with `X-Meshcd-Signature: sha256=<hex HMAC-SHA256 of the
// body>` when a secret is configured. pre-rollout, rollout and
// confirm-promotion gate the rollout (a 2xx answer lets it go on);
// post-rollout, rollback and event are fire-and-forget, logged on failure.
// The secret is read from a file or environment variable on each call (so a
// rotation is picked up) and never appears in a log line, a result or a URL;
// URLs are shown without userinfo and query string.

import { createHmac } from 'node:crypto';
import type { WebhookSpec, WebhookType } from './contracts.js';
import { readSecret, redact, type SecretRef } from '../source/secret.js';
import { logger, type Logger } from '../util/log.js';

export const SIGNATURE_HEADER = 'x-meshcd-signature';
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
/** Bytes of a failing answer kept for the message; the rest is not read. */
const MAX_ANSWER_BYTES = 4096;

const GATING: ReadonlySet<WebhookType> = new Set(['pre-rollout', 'rollout', 'confirm-promotion']);

/** Whether the rollout waits for this webhook's answer. */
export function isGating(type: WebhookType): boolean {
  return GATING.has(type);
}

export interface WebhookEvent {
  /** The Rollout. */
  name: string;
  namespace: string;
  /** Rollout phase (Progressing, Paused, Succeeded, Failed, Aborted). */
  phase: string;
  /** The revision being rolled out (Flagger calls it checksum). */
  checksum?: string;
  stepIndex?: number;
  canaryWeight?: number;
  /** For `event` and `rollback` hooks: what happened. */
  message?: string;
}

export type WebhookResult = { ok: true; status: number } | { ok: false; status?: number; error: string };

export interface WebhookSenderOptions {
  /** HMAC secret, from a file or environment variable. */
  secret?: SecretRef;
  log?: Logger;
}

/** The URL as it may be shown: no userinfo, no query string or fragment. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/** Go-style `10s`, `500ms`, `1m`, `1m30s` → ms. */
function durationMs(value: string | undefined, where: string): number {
  if (value === undefined) return DEFAULT_WEBHOOK_TIMEOUT_MS;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(value))) {
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    end = re.lastIndex;
  }
  if (end === 0 || end !== value.length || total <= 0) throw new Error(`${where}: timeout "${value}" is not a duration (e.g. 10s, 500ms)`);
  return total;
}

export function webhookPayload(hook: WebhookSpec, event: WebhookEvent, now: number): Record<string, unknown> {
  const metadata: Record<string, string> = { ...(hook.metadata ?? {}) };
  if (event.message !== undefined && (hook.type === 'event' || hook.type === 'rollback')) {
    metadata.eventMessage = event.message;
    metadata.eventType = hook.type === 'rollback' ? 'Warning' : 'Normal';
    metadata.timestamp = String(now);
  }
  return {
    name: event.name,
    namespace: event.namespace,
    phase: event.phase,
    type: hook.type,
    ...(event.checksum !== undefined ? { checksum: event.checksum } : {}),
    metadata,
    ...(event.stepIndex !== undefined ? { stepIndex: event.stepIndex } : {}),
    ...(event.canaryWeight !== undefined ? { canaryWeight: event.canaryWeight } : {}),
  };
}

async function answerText(res: Response): Promise<string> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    chunks.push(chunk);
    size += chunk.byteLength;
    if (size >= MAX_ANSWER_BYTES) break;
  }
  await res.body.cancel().catch(() => undefined);
  const line = Buffer.concat(chunks).subarray(0, MAX_ANSWER_BYTES).toString('utf8').replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

export class WebhookSender {
  private readonly log: Logger;

  constructor(private readonly opts: WebhookSenderOptions = {}) {
    this.log = opts.log ?? logger('rollout');
  }

  /** Sends the webhook and waits for the answer (2xx = ok). Never throws. */
  async send(hook: WebhookSpec, event: WebhookEvent, now = Date.now()): Promise<WebhookResult> {
    const where = `webhook ${hook.name} (${hook.type}, ${displayUrl(hook.url)}) of Rollout ${event.namespace}/${event.name}`;
    try {
      const timeoutMs = durationMs(hook.timeout, where);
      const body = JSON.stringify(webhookPayload(hook, event, now));
      const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'meshcd' };
      if (this.opts.secret) {
        const secret = await readSecret(this.opts.secret, 'rollout webhook secret');
        headers[SIGNATURE_HEADER] = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
      }
      let res: Response;
      try {
        res = await fetch(hook.url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
      } catch (err) {
        const e = err as Error & { cause?: { code?: string; message?: string } };
        if (e.name === 'TimeoutError' || e.name === 'AbortError') return { ok: false, error: `${where}: no answer within ${timeoutMs} ms` };
        return { ok: false, error: `${where}: unreachable (${e.cause?.code ?? e.cause?.message ?? e.message})` };
      }
      if (res.status >= 200 && res.status < 300) {
        await res.body?.cancel().catch(() => undefined);
        return { ok: true, status: res.status };
      }
      const text = await answerText(res);
      return { ok: false, status: res.status, error: redact(`${where}: HTTP ${res.status}${text ? `: ${text}` : ''}`) };
    } catch (err) {
      return { ok: false, error: redact(`${where}: ${(err as Error)?.message?.split('\n')[0] ?? String(err)}`) };
    }
  }

  /** Fire-and-forget (post-rollout, rollback, event): a failure is logged, never raised. */
  notify(hook: WebhookSpec, event: WebhookEvent, now = Date.now()): Promise<void> {
    return this.send(hook, event, now).then((r) => {
      if (!r.ok) this.log.warn({ rollout: `${event.namespace}/${event.name}`, webhook: hook.name, type: hook.type, status: r.status }, r.error);
    });
  }

  /**
   * Runs every hook of one type for an event: gating types are awaited and
   * the first failure returned; the others are sent in the background.
   */
  async run(hooks: readonly WebhookSpec[], type: WebhookType, event: WebhookEvent, now = Date.now()): Promise<WebhookResult | undefined> {
    const selected = hooks.filter((h) => h.type === type);
    if (!isGating(type)) {
      for (const h of selected) void this.notify(h, event, now);
      return undefined;
    }
    const results = await Promise.all(selected.map((h) => this.send(h, event, now)));
    return results.find((r) => !r.ok) ?? results[0];
  }
}
