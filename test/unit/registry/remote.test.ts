// Remote-cluster Secrets (Istio's istio/multiCluster Secrets): which
// kubeconfigs are accepted (inline credentials, https, current context only)
// and which clusters a set of Secrets asks for. Errors name the Secret, the
// key and the field, never a value.

import test from 'ava';
import type { V1Secret } from '@kubernetes/client-node';
import { parseRemoteKubeconfig, remoteClustersOf } from '../../../src/registry/kubernetes/remote.js';

const TOKEN = 'sekrit-token-value-1234';
const kubeconfig = (o: { server?: string; user?: Record<string, unknown>; cluster?: Record<string, unknown>; current?: string } = {}) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': o.current ?? 'west',
    clusters: [{ name: 'west', cluster: { server: o.server ?? 'https://10.0.0.1:6443', 'certificate-authority-data': 'Q0E=', ...o.cluster } }],
    users: [{ name: 'west', user: o.user ?? { token: TOKEN } }],
    contexts: [{ name: 'west', context: { cluster: 'west', user: 'west' } }],
  });
const secret = (name: string, data: Record<string, string>): V1Secret => ({ metadata: { name, namespace: 'meshcd-system', labels: { 'istio/multiCluster': 'true' } }, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) });

test('an inline kubeconfig: its current context only, with the token and CA data', (t) => {
  const kc = parseRemoteKubeconfig(kubeconfig(), 'Secret s key "west"');
  t.is(kc.getCurrentCluster()?.server, 'https://10.0.0.1:6443');
  t.is(kc.getCurrentCluster()?.caData, 'Q0E=');
  t.is(kc.getCurrentUser()?.token, TOKEN);
  const cert = parseRemoteKubeconfig(kubeconfig({ user: { 'client-certificate-data': 'Y2VydA==', 'client-key-data': 'a2V5' } }), 'w');
  t.is(cert.getCurrentUser()?.certData, 'Y2VydA==');
});

test('exec plugins, auth providers, file paths and plain http are refused, naming the field and never a value', (t) => {
  const cases: [string, string, RegExp][] = [
    ['exec', kubeconfig({ user: { exec: { command: '/bin/sh', args: ['-c', 'id'] } } }), /user field "exec" is not allowed/],
    ['auth-provider', kubeconfig({ user: { 'auth-provider': { name: 'gcp' } } }), /user field "auth-provider" is not allowed/],
    ['token-file', kubeconfig({ user: { 'token-file': '/etc/shadow' } }), /user field "token-file" is not allowed/],
    ['client-certificate', kubeconfig({ user: { 'client-certificate': '/root/cert.pem', token: TOKEN } }), /user field "client-certificate" is not allowed/],
    ['certificate-authority', kubeconfig({ cluster: { 'certificate-authority': '/etc/ca.pem' } }), /cluster field "certificate-authority" is not allowed/],
    ['proxy-url', kubeconfig({ cluster: { 'proxy-url': 'http://10.9.9.9:3128' } }), /cluster field "proxy-url" is not allowed/],
    ['http', kubeconfig({ server: 'http://10.0.0.1:8080' }), /has no https server URL/],
    ['no context', kubeconfig({ current: 'nope' }), /context "nope" of the current context is not defined/],
    ['not yaml', '{{{', /not YAML/],
    ['too big', `# ${'x'.repeat(300 * 1024)}\n${kubeconfig()}`, /larger than 256 KiB/],
  ];
  for (const [name, text, message] of cases) {
    const err = t.throws(() => parseRemoteKubeconfig(text, 'Secret meshcd-system/remote key "west"'), undefined, name);
    t.regex(err!.message, /^Secret meshcd-system\/remote key "west": /, name);
    t.regex(err!.message, message, name);
    t.notRegex(err!.message, new RegExp(`${TOKEN}|/bin/sh|/etc/shadow`), name);
  }
});

test('the clusters a set of Secrets asks for: ids in order, own and duplicate ids refused, a refused kubeconfig marked so a running cluster keeps running', (t) => {
  const r = remoteClustersOf(
    [
      secret('b-remote', { west: kubeconfig({ server: 'https://10.0.0.2:6443' }), 'bad id!': kubeconfig() }),
      secret('a-remote', { west: kubeconfig(), east: kubeconfig({ user: { exec: { command: 'x' } } }), primary: kubeconfig() }),
    ],
    new Set(['primary']),
  );
  t.deepEqual(r.clusters.map((c) => `${c.id}@${c.secret}:${c.kubeConfig.getCurrentCluster()?.server}`), ['west@meshcd-system/a-remote:https://10.0.0.1:6443']);
  t.deepEqual(
    r.errors.map((e) => [e.key, !!e.kubeconfig, e.error.replace(/ \(.*$/, '')]),
    [
      ['east', true, 'Secret meshcd-system/a-remote key "east": user field "exec" is not allowed in a remote-cluster Secret'],
      ['primary', false, 'Secret meshcd-system/a-remote key "primary": cluster id "primary" is meshcd\'s own'],
      ['bad id!', false, 'Secret meshcd-system/b-remote key "bad id!": not a cluster id'],
      ['west', false, 'Secret meshcd-system/b-remote key "west": cluster id "west" is already given by Secret meshcd-system/a-remote; ignored'],
    ],
  );
  // The same text gives the same digest (no restart); another text another.
  const again = remoteClustersOf([secret('a-remote', { west: kubeconfig() })], new Set());
  t.is(again.clusters[0]!.digest, r.clusters[0]!.digest);
  t.not(remoteClustersOf([secret('a-remote', { west: kubeconfig({ user: { token: 'other' } }) })], new Set()).clusters[0]!.digest, r.clusters[0]!.digest);
});

test('a Secret with more than 64 keys is ignored whole', (t) => {
  const data = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`c${i}`, kubeconfig()]));
  const r = remoteClustersOf([secret('many', data)], new Set());
  t.deepEqual(r.clusters, []);
  t.regex(r.errors[0]!.error, /65 keys, more than 64 clusters; ignored/);
});
