// Webhook signatures. A push webhook only triggers a fetch, but a forged one
// must not even do that: each form is checked with a constant-time compare.
//   GitHub  X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>
//   GitLab  X-Gitlab-Token: <secret>
//   generic X-Meshcd-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export type WebhookKind = 'github' | 'gitlab' | 'generic';
export type WebhookVerdict = { ok: true; kind: WebhookKind } | { ok: false; reason: string };

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a), y = Buffer.from(b);
  // Compare equal-length buffers so the length check leaks only the length.
  if (x.length !== y.length) {
    timingSafeEqual(x, x);
    return false;
  }
  return timingSafeEqual(x, y);
}

export function hmacSignature(secret: string, body: Uint8Array): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function verifyWebhook(headers: IncomingHttpHeaders, body: Uint8Array, secret: string): WebhookVerdict {
  const github = header(headers, 'x-hub-signature-256');
  if (github !== undefined) return safeEqual(github.trim().toLowerCase(), hmacSignature(secret, body)) ? { ok: true, kind: 'github' } : { ok: false, reason: 'X-Hub-Signature-256 does not match' };
  const gitlab = header(headers, 'x-gitlab-token');
  if (gitlab !== undefined) return safeEqual(gitlab, secret) ? { ok: true, kind: 'gitlab' } : { ok: false, reason: 'X-Gitlab-Token does not match' };
  const generic = header(headers, 'x-meshcd-signature');
  if (generic !== undefined) return safeEqual(generic.trim().toLowerCase(), hmacSignature(secret, body)) ? { ok: true, kind: 'generic' } : { ok: false, reason: 'X-Meshcd-Signature does not match' };
  return { ok: false, reason: 'no signature header (X-Hub-Signature-256, X-Gitlab-Token or X-Meshcd-Signature)' };
}

/**
 * The branch or tag a push event is about, when the payload says so
 * (GitHub and GitLab both send `ref: refs/heads/<branch>`), so pushes to
 * other branches do not cause a fetch.
 */
export function pushedRef(body: Uint8Array): string | undefined {
  if (body.byteLength === 0 || body[0] !== 0x7b) return undefined;
  try {
    const v = JSON.parse(Buffer.from(body).toString('utf8')) as { ref?: unknown };
    if (typeof v.ref !== 'string') return undefined;
    return v.ref.replace(/^refs\/(heads|tags)\//, '');
  } catch {
    return undefined;
  }
}
