// The admin route `POST /hooks/NAME`: finds the source, reads its webhook
// secret, verifies the signature (webhook.ts), ignores pushes to other refs,
// and asks for a fetch. It never fetches itself and never says more than
// needed to an unauthenticated caller.

import { json, type AdminRequest, type AdminResponse } from '../admin/server.js';
import { logger } from '../util/log.js';
import { metric } from '../util/metrics.js';
import { readSecret, redact } from './secret.js';
import type { SourceSpec } from './spec.js';
import { pushedRef, verifyWebhook } from './webhook.js';

const webhooks = () => metric('counter', 'meshcd_source_webhooks_total', 'Webhook requests by result', ['source', 'result']);

export interface WebhookTarget {
  spec: SourceSpec;
  /** A verified push for this source: fetch soon (returns at once). */
  fetch(): void;
}

export function webhookRoute(find: (name: string) => WebhookTarget | undefined): (req: AdminRequest) => Promise<AdminResponse> {
  const log = logger('source');
  return async (req) => {
    const name = req.params.name!;
    const target = find(name);
    if (!target) return json(404, { error: `unknown source "${name}"` });
    const spec = target.spec;
    if (!spec.webhookSecret) {
      webhooks().inc({ source: name, result: 'disabled' });
      return json(403, { error: `source "${name}" has no webhook secret configured` });
    }
    let secret: string;
    try {
      secret = await readSecret(spec.webhookSecret, `${name}: webhook secret`);
    } catch (err) {
      log.error({ source: name, err: redact((err as Error).message) }, 'webhook secret unavailable');
      return json(500, { error: 'webhook secret unavailable' });
    }
    const verdict = verifyWebhook(req.headers, req.body, secret);
    if (!verdict.ok) {
      webhooks().inc({ source: name, result: 'unauthorized' });
      log.warn({ source: name, reason: verdict.reason }, 'webhook rejected');
      return json(401, { error: verdict.reason });
    }
    const ref = pushedRef(req.body);
    if (ref !== undefined && spec.kind === 'git' && !/^[0-9a-f]{40}$/.test(spec.ref) && ref !== spec.ref) {
      webhooks().inc({ source: name, result: 'ignored' });
      return json(202, { status: 'ignored', reason: `push to ${ref}, source follows ${spec.ref}` });
    }
    webhooks().inc({ source: name, result: 'accepted' });
    log.info({ source: name, kind: verdict.kind }, 'webhook: fetching');
    target.fetch();
    return json(202, { status: 'fetching', source: name });
  };
}
