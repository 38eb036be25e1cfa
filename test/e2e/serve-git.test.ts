// `meshcd serve` with a Git source end to end: a real Git server
// (git http-backend on loopback, token auth), the real CLI, and an ADS
// client. A pushed commit announced by a signed webhook changes what the
// proxy receives; an invalid commit is rejected and the proxy keeps the last
// good routes; `git revert` of a change rolls the routes back. The token
// never appears in anything meshcd prints.

import test from 'ava';
import { chmod, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TYPE_URL } from '../../src/api/types.js';
import { hmacSignature } from '../../src/source/webhook.js';
import { checkResource } from '../../src/xds/proto.js';
import { startGitServer } from '../helpers/git-server.js';
import { makeRepo, tempDir } from '../helpers/git-repo.js';
import { AdsTestClient, grpcNode, type DecodedResponse } from '../helpers/xds-client.js';
import { eventually, startServe } from '../helpers/xds-e2e.js';

const TOKEN = 'tok-3f9a1c7e55d2';
const HOOK_SECRET = 'hook-8b2d4e6f';
const LISTENER = 'reviews.bookinfo.svc.cluster.local:9080';

async function meshFiles(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string, rel: string) => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(dir, e.name), `${rel}${e.name}/`);
      else out[`mesh/${rel}${e.name}`] = await readFile(join(dir, e.name), 'utf8');
    }
  };
  await walk('examples/mesh', '');
  return out;
}

/** The weights of the primary reviews route, as the proxy receives them. */
function primaryWeights(rds: DecodedResponse): Record<string, number> {
  const rc = rds.values[0] as { virtual_hosts: { routes: { name?: string; route?: { weighted_clusters?: { clusters: { name: string; weight: { value: number } }[] }; cluster?: string } }[] }[] };
  const routes = rc.virtual_hosts.flatMap((v) => v.routes);
  const primary = routes[routes.length - 1]!.route!;
  if (primary.cluster) return { [primary.cluster]: 100 };
  return Object.fromEntries(primary.weighted_clusters!.clusters.map((c) => [c.name, c.weight.value]));
}

test('serve follows a Git repository: webhook-triggered change, rejected commit, revert', async (t) => {
  const root = await tempDir('meshcd-serve-git-');
  const git = await startGitServer({ root, auth: { token: TOKEN } });
  t.teardown(() => git.close());
  const repo = await makeRepo(root, 'platform');
  const files = await meshFiles();
  await repo.commit(files, 'bookinfo');
  await repo.push();
  await writeFile(join(root, 'token'), TOKEN + '\n');
  await writeFile(join(root, 'hook'), HOOK_SECRET);
  await chmod(join(root, 'token'), 0o600);

  const spec = `platform=${git.url('platform.git')}#main:mesh;token-file=${join(root, 'token')};webhook-secret-file=${join(root, 'hook')};poll=1h`;
  const serve = await startServe(spec, ['--state-dir', join(root, 'state')]);
  t.teardown(() => serve.stop());
  await eventually(async () => {
    if ((await fetch(`${serve.admin}/ready`)).status !== 200) throw new Error('not ready');
  });
  const status = (await (await fetch(`${serve.admin}/api/v1/sources`)).json()) as { sources: { revision?: string; url: string }[] };
  t.is(status.sources[0]!.revision, `main@sha1:${await repo.head()}`);

  const client = new AdsTestClient(serve.xds, grpcNode('sidecar~127.0.0.1~client.bookinfo~bookinfo.svc.cluster.local', 'bookinfo', { GENERATOR: 'grpc' }));
  t.teardown(() => client.close());
  client.request(TYPE_URL.listener, [LISTENER]);
  const lds = await client.next(TYPE_URL.listener);
  client.request(TYPE_URL.listener, [LISTENER], lds);
  const rdsName = (lds.values[0] as { api_listener: { api_listener: { rds: { route_config_name: string } } } }).api_listener.api_listener.rds.route_config_name;
  client.request(TYPE_URL.route, [rdsName]);
  let rds = await client.next(TYPE_URL.route);
  client.request(TYPE_URL.route, [rdsName], rds);
  const before = primaryWeights(rds);
  t.is(Object.values(before).reduce((a, b) => a + b, 0), 100);

  const hook = async () => {
    const body = JSON.stringify({ ref: 'refs/heads/main' });
    const r = await fetch(`${serve.admin}/hooks/platform`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': hmacSignature(HOOK_SECRET, Buffer.from(body)) } });
    t.is(r.status, 202);
  };
  const vsPath = 'mesh/bookinfo/virtual-services.yaml';

  // A canary step: v1 90 / v3 10, announced by webhook.
  const split = files[vsPath]!.replace('weight: 100', 'weight: 90').replace('weight: 0', 'weight: 10');
  await repo.commit({ [vsPath]: split }, 'reviews: 10% to v3');
  await repo.push();
  await hook();
  rds = await client.next(TYPE_URL.route, 15000);
  client.request(TYPE_URL.route, [rdsName], rds);
  for (const v of lds.values) t.deepEqual(checkResource(TYPE_URL.listener, v as Record<string, unknown>), []);
  for (const v of rds.values) t.deepEqual(checkResource(TYPE_URL.route, v as Record<string, unknown>), []);
  const after = primaryWeights(rds);
  t.deepEqual(Object.values(after).sort((a, b) => a - b), [10, 90]);

  // An invalid commit: rejected whole, the proxy receives nothing new.
  const bad = await repo.commit({ 'mesh/bookinfo/broken.yaml': 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: broken, namespace: bookinfo}\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n      wieght: 100\n' }, 'broken');
  await repo.push();
  await hook();
  await eventually(async () => {
    if (!serve.stderr().includes(`rejected main@sha1:${bad}`)) throw new Error('not rejected yet');
  }, 15000);
  t.regex(serve.stderr(), /bookinfo\/broken\.yaml:9 .*MCD0100/);
  t.true(await client.quiet(500, TYPE_URL.route));
  const afterBad = (await (await fetch(`${serve.admin}/api/v1/sources`)).json()) as { sources: { revision?: string; lastRejected?: { revision: string } }[] };
  t.is(afterBad.sources[0]!.lastRejected?.revision, `main@sha1:${bad}`);
  t.not(afterBad.sources[0]!.revision, `main@sha1:${bad}`);

  // A person reverts both commits: the routes go back to where they were.
  await repo.git('revert', '--no-edit', 'HEAD', 'HEAD~1');
  await repo.push();
  await hook();
  rds = await client.next(TYPE_URL.route, 15000);
  client.request(TYPE_URL.route, [rdsName], rds);
  t.deepEqual(primaryWeights(rds), before);

  const syncz = (await (await fetch(`${serve.admin}/debug/syncz`)).json()) as { proxies: { proxy: string; lastNack?: unknown }[] };
  const me = syncz.proxies.find((p) => p.proxy.startsWith('sidecar~127.0.0.1~client'));
  t.truthy(me, 'the client is listed');
  t.is(me!.lastNack, undefined, 'zero NACKs');
  for (const out of [serve.stdout(), serve.stderr(), JSON.stringify(afterBad)]) {
    t.false(out.includes(TOKEN), 'the token never appears');
    t.false(out.includes(HOOK_SECRET), 'the webhook secret never appears');
  }
});
