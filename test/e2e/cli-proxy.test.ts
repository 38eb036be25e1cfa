// `meshcd proxy-status` and `meshcd proxy-config` against a live `meshcd
// serve` with a real proxyless client (@grpc/grpc-js-xds) calling real echo
// backends, and a raw ADS client that NACKs. The mesh is the e2e fixture
// (reviews v1/v2 without mTLS): grpc-js-xds NACKs examples/mesh's
// ISTIO_MUTUAL clusters when its bootstrap has no certificate provider,
// which proxy-status reports as it should but is not what this test is about.

import test from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { callEcho, eventually, renderTemplate, startBackend, startServe, tempDir, writeFileIn, xdsClient } from '../helpers/xds-e2e.js';
import { AdsTestClient, grpcNode } from '../helpers/xds-client.js';

const BIN = join(process.cwd(), 'dist/src/cli/bin.js');
const CLIENT_ID = 'sidecar~127.0.0.1~client.bookinfo~bookinfo.svc.cluster.local';
const NACKER_ID = 'sidecar~127.0.0.2~nacker.bookinfo~bookinfo.svc.cluster.local';
const CDS = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';

function meshcd(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000, encoding: 'utf8' }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
  });
}

test('proxy-status and proxy-config against a live serve: SYNCED grpc-js-xds client, NACKing raw client, exit codes', async (t) => {
  const { dir, remove } = await tempDir('meshcd-e2e-cli-proxy-');
  t.teardown(remove);
  const v1 = await startBackend('v1');
  const v2 = await startBackend('v2');
  t.teardown(() => v1.close());
  t.teardown(() => v2.close());
  await writeFileIn(dir, 'reviews.yaml', await renderTemplate('mesh.yaml.tmpl', { P_V1: v1.port, P_V2: v2.port, WEIGHT_V1: 90, WEIGHT_V2: 10 }));
  const s = await startServe(dir, ['--no-ca']);
  t.teardown(() => s.stop());
  const server = ['--server', s.admin];

  const client = await xdsClient('xds:///reviews.bookinfo.svc.cluster.local:9080', s.xds, CLIENT_ID);
  t.teardown(() => client.close());
  const reply = await eventually(() => callEcho(client), 30_000, 200);
  t.true(['v1', 'v2'].includes(reply.version));

  const synced = await eventually(async () => {
    const r = await meshcd(['proxy-status', ...server, '-o', 'json']);
    const doc = JSON.parse(r.stdout) as { proxies: { proxy: string; types: Record<string, { state: string }> }[] };
    const me = doc.proxies.find((p) => p.proxy === CLIENT_ID);
    if (!me || !['CDS', 'LDS', 'EDS', 'RDS'].every((k) => me.types[k]!.state === 'SYNCED')) throw new Error(`not synced yet: ${r.stdout}`);
    return r;
  }, 30_000, 500);
  t.is(synced.code, 0, synced.stderr);

  const table = await meshcd(['proxy-status', ...server]);
  t.is(table.code, 0, table.stderr);
  const [head, ...lines] = table.stdout.trimEnd().split('\n');
  t.regex(head!, /^NAME\s+KIND\s+NAMESPACE\s+REVISION\s+CDS\s+LDS\s+EDS\s+RDS\s+SDS\s+LAST PUSH\s+VERSION$/);
  const row = lines.find((l) => l.startsWith(CLIENT_ID))!;
  t.regex(row, /bookinfo\s+dir@sha256:[0-9a-f]+\s+SYNCED\s+SYNCED\s+SYNCED\s+SYNCED\s+\S+/);
  t.regex(row, /gRPC Node/);

  const one = await meshcd(['proxy-status', CLIENT_ID, ...server]);
  t.is(one.code, 0);
  t.is(one.stdout.trimEnd().split('\n').length, 2);
  const missing = await meshcd(['proxy-status', 'sidecar~1.2.3.4~nobody.x~x.svc.cluster.local', ...server]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /^error: no connected proxy with id sidecar~1\.2\.3\.4/);

  // proxy-config: tables by default, structured on request, secrets by name only.
  const clusters = await meshcd(['proxy-config', 'cluster', CLIENT_ID, ...server]);
  t.is(clusters.code, 0, clusters.stderr);
  t.regex(clusters.stdout, /^NAME\s+SERVICE FQDN\s+PORT\s+SUBSET\s+DIRECTION\s+TYPE\n/);
  t.regex(clusters.stdout, /outbound\|9080\|\S*\|reviews\.bookinfo\.svc\.cluster\.local\s+reviews\.bookinfo\.svc\.cluster\.local\s+9080/);
  const listeners = await meshcd(['proxy-config', 'listener', CLIENT_ID, ...server, '-o', 'json']);
  t.is(listeners.code, 0, listeners.stderr);
  const ls = JSON.parse(listeners.stdout) as { name: string }[];
  t.true(ls.some((l) => l.name === 'reviews.bookinfo.svc.cluster.local:9080'), listeners.stdout.slice(0, 300));
  const routes = await meshcd(['proxy-config', 'route', CLIENT_ID, ...server]);
  t.regex(routes.stdout, /^NAME\s+VHOST\s+DOMAINS\s+ROUTES\n/);
  t.regex(routes.stdout, /reviews\.bookinfo\.svc\.cluster\.local/);
  const endpoints = await meshcd(['proxy-config', 'endpoint', CLIENT_ID, ...server, '-o', 'yaml']);
  t.is(endpoints.code, 0);
  t.regex(endpoints.stdout, /clusterName: outbound\|9080\|/);
  const named = await meshcd(['proxy-config', 'cluster', CLIENT_ID, '--name', 'no-such-cluster', ...server]);
  t.is(named.code, 1);
  t.regex(named.stderr, /no cluster named "no-such-cluster"/);
  const secrets = await meshcd(['proxy-config', 'secret', CLIENT_ID, ...server]);
  t.is(secrets.code, 0);
  t.notRegex(secrets.stdout, /PRIVATE KEY|BEGIN CERTIFICATE/);
  const notConnected = await meshcd(['proxy-config', 'cluster', 'sidecar~9.9.9.9~x.y~y.svc.cluster.local', ...server]);
  t.is(notConnected.code, 1);
  t.regex(notConnected.stderr, /HTTP 404: no connected proxy/);

  // A raw client that NACKs its clusters: proxy-status names it and the error, and exits 1.
  const nacker = new AdsTestClient(s.xds, grpcNode(NACKER_ID, 'bookinfo'));
  t.teardown(() => nacker.close());
  nacker.request(CDS);
  const cds = await nacker.next(CDS, 20_000);
  nacker.request(CDS, [], cds, 'cluster rejected by the test: bad lb_policy');
  const nacked = await eventually(async () => {
    const r = await meshcd(['proxy-status', ...server]);
    if (r.code !== 1) throw new Error(`no NACK yet: ${r.stdout}`);
    return r;
  }, 30_000, 500);
  t.regex(nacked.stdout, new RegExp(`${NACKER_ID.replace(/[.~]/g, '\\$&')}\\s+\\S+\\s+bookinfo\\s+\\S+\\s+NACKED`));
  t.regex(nacked.stdout, /NACKED sidecar~127\.0\.0\.2\S* CDS: cluster rejected by the test: bad lb_policy/);
  t.regex(nacked.stderr, /1 problem\(s\)/);
  const stillOk = await meshcd(['proxy-status', CLIENT_ID, ...server]);
  t.is(stillOk.code, 0, 'the healthy proxy alone passes');

  const down = await meshcd(['proxy-status', '--server', 'http://127.0.0.1:1']);
  t.is(down.code, 2);
  t.regex(down.stderr, /^error: http:\/\/127\.0\.0\.1:1\/debug\/syncz: cannot reach the meshcd admin server \(.+\); is meshcd serve running there/);
  t.is(down.stderr.split('\n').length, 2, 'one line');
  t.is((await meshcd(['proxy-status', '--server', 'ftp://x'])).code, 2);
  t.is((await meshcd(['proxy-config', 'bogus', CLIENT_ID, ...server])).code, 2);
});
