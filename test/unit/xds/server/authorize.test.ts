// The identity and secret decisions as plain values (src/xds/server/authorize.ts).
import test from 'ava';
import { checkIdentity, credentialsFor, maySendSecret, secretScope, type StreamAccess } from '../../../../src/xds/server/authorize.js';
import type { XdsResource } from '../../../../src/api/types.js';

const id = (namespace: string, serviceAccount: string) => ({ namespace, serviceAccount, method: 'client-certificate', principal: `spiffe://cluster.local/ns/${namespace}/sa/${serviceAccount}` });
const gw = { id: 'router~1~gw.bookinfo~bookinfo.svc.cluster.local', kind: 'router' as const, namespace: 'bookinfo' };

test('checkIdentity: namespace always, service account when the node states one', (t) => {
  const rows: [string, { namespace: string; serviceAccount?: string }, StreamAccess, boolean][] = [
    ['plaintext: nothing to contradict', { namespace: 'bookinfo' }, { port: 'plaintext' }, true],
    ['tls unauthenticated (flag)', { namespace: 'bookinfo' }, { port: 'tls' }, true],
    ['same namespace, no SA claimed', { namespace: 'bookinfo' }, { port: 'tls', identity: id('bookinfo', 'ingress') }, true],
    ['same namespace and SA', { namespace: 'bookinfo', serviceAccount: 'ingress' }, { port: 'tls', identity: id('bookinfo', 'ingress') }, true],
    ['other namespace', { namespace: 'bookinfo' }, { port: 'tls', identity: id('shop', 'ingress') }, false],
    ['other service account', { namespace: 'bookinfo', serviceAccount: 'ingress' }, { port: 'tls', identity: id('bookinfo', 'reviews') }, false],
  ];
  for (const [name, claim, access, ok] of rows) {
    const d = checkIdentity({ id: 'n1', ...claim }, access);
    t.is(d.ok, ok, name);
    if (!d.ok) t.regex(d.reason, /claims .* but the caller is spiffe:/, name);
  }
});

test('secretScope and maySendSecret: keys only over TLS to the namespace identity; ROOTCA to all', (t) => {
  const rows: [StreamAccess, 'authorized' | 'trust-bundle'][] = [
    [{ port: 'plaintext' }, 'trust-bundle'],
    [{ port: 'tls' }, 'trust-bundle'],
    [{ port: 'tls', identity: id('bookinfo', 'ingress') }, 'authorized'],
    [{ port: 'tls', identity: id('shop', 'ingress') }, 'trust-bundle'],
  ];
  for (const [access, scope] of rows) t.is(secretScope(gw, access), scope, JSON.stringify(access));
  t.true(maySendSecret('trust-bundle', 'ROOTCA'));
  t.false(maySendSecret('trust-bundle', 'bookinfo-credential'));
  t.true(maySendSecret('authorized', 'bookinfo-credential'));
});

test('credentialsFor: gateways only, own namespace only, referenced names only', (t) => {
  const s = (name: string): XdsResource => ({ name, value: { name }, version: '1' });
  const byNs = new Map([['bookinfo', new Map([['a', s('a')], ['b', s('b')]])], ['shop', new Map([['c', s('c')]])]]);
  t.deepEqual(credentialsFor(gw, new Set(['a', 'c', 'zz']), byNs).map((x) => x.name), ['a']);
  t.deepEqual(credentialsFor({ ...gw, kind: 'sidecar' }, new Set(['a']), byNs), []);
  t.deepEqual(credentialsFor({ ...gw, namespace: 'other' }, new Set(['a']), byNs), []);
});
