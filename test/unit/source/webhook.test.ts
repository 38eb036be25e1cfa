import test from 'ava';
import { createHmac } from 'node:crypto';
import { hmacSignature, pushedRef, verifyWebhook } from '../../../src/source/webhook.js';

const secret = "It's a Secret to Everybody";
const body = Buffer.from('Hello, World!');

test('GitHub X-Hub-Signature-256: the documented example verifies; altered body or secret does not', (t) => {
  // The test vector from GitHub's "Validating webhook deliveries" documentation.
  const sig = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
  t.is(hmacSignature(secret, body), sig);
  t.deepEqual(verifyWebhook({ 'x-hub-signature-256': sig }, body, secret), { ok: true, kind: 'github' });
  t.false(verifyWebhook({ 'x-hub-signature-256': sig }, Buffer.from('Hello, World?'), secret).ok);
  t.false(verifyWebhook({ 'x-hub-signature-256': sig }, body, 'other').ok);
  t.false(verifyWebhook({ 'x-hub-signature-256': 'sha256=00' }, body, secret).ok);
  t.false(verifyWebhook({ 'x-hub-signature-256': '' }, body, secret).ok);
});

test('GitLab token, generic HMAC, and no header at all', (t) => {
  t.deepEqual(verifyWebhook({ 'x-gitlab-token': secret }, body, secret), { ok: true, kind: 'gitlab' });
  t.false(verifyWebhook({ 'x-gitlab-token': secret + 'x' }, body, secret).ok);
  const generic = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  t.deepEqual(verifyWebhook({ 'x-meshcd-signature': generic.toUpperCase().replace('SHA256', 'sha256') }, body, secret), { ok: true, kind: 'generic' });
  const none = verifyWebhook({}, body, secret);
  t.false(none.ok);
  t.regex((none as { reason: string }).reason, /no signature header/);
});

test('pushedRef reads the ref of GitHub/GitLab push payloads', (t) => {
  t.is(pushedRef(Buffer.from('{"ref":"refs/heads/main"}')), 'main');
  t.is(pushedRef(Buffer.from('{"ref":"refs/tags/v1"}')), 'v1');
  t.is(pushedRef(Buffer.from('{"zen":"hi"}')), undefined);
  t.is(pushedRef(Buffer.from('not json')), undefined);
  t.is(pushedRef(Buffer.from('{broken')), undefined);
});
