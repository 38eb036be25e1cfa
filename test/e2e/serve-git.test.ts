// `meshcd serve` with a Git source end to end: a real Git server
// (git http-backend on loopback, token auth), the real CLI, and an ADS
// client. A pushed commit announced by a signed webhook changes what the
// proxy receives; an invalid commit is rejected and the proxy keeps the last
// good routes; `git revert` of a change rolls the routes back. The token
// never appears in anything meshcd prints.

import test from 'ava';
import { chmod, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { join } from 'node:path';
import { TYPE_URL } from '../../src/api/types.js';
import { hmacSignature } from '../../src/source/webhook.js';
import { checkResource } from '../../src/xds/proto.js';
import { startGitServer } from '../helpers/git-server.js';
import { makeRepo, tempDir } from '../helpers/git-repo.js';
import { AdsTestClient, grpcNode, type DecodedResponse } from '../helpers/xds-client.js';
import { eventually, startServe, type ServeProcess } from '../helpers/xds-e2e.js';

const TOKEN = 'tok-3f9a1c7e55d2';
const HOOK_SECRET = 'hook-8b2d4e6f';
const LISTENER = 'reviews.bookinfo.svc.cluster.local:9080';

/** examples/mesh without its canary Rollout: these tests change the reviews weights and expect them served at once (rollouts have their own e2e). */
async function meshFiles(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string, rel: string) => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (e.isDirectory() && e.name === 'canary') continue;
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

test.serial('serve follows a Git repository: webhook-triggered change, rejected commit, revert', async (t) => {
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
    if (!serve.stdout().includes(`rejected main@sha1:${bad}`)) throw new Error('not rejected yet');
  }, 15000);
  t.regex(serve.stdout(), /bookinfo\/broken\.yaml:9 .*MCD0100/);
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
  await eventually(async () => {
    if (!/recovered source platform: serving main@sha1:[0-9a-f]{40} after a rejected revision/.test(serve.stdout())) throw new Error('no recovered line yet');
  });

  const syncz = (await (await fetch(`${serve.admin}/debug/syncz`)).json()) as { proxies: { proxy: string; lastNack?: unknown }[] };
  const me = syncz.proxies.find((p) => p.proxy.startsWith('sidecar~127.0.0.1~client'));
  t.truthy(me, 'the client is listed');
  t.is(me!.lastNack, undefined, 'zero NACKs');
  for (const out of [serve.stdout(), serve.stderr(), JSON.stringify(afterBad)]) {
    t.false(out.includes(TOKEN), 'the token never appears');
    t.false(out.includes(HOOK_SECRET), 'the webhook secret never appears');
  }
});

// ---------------------------------------------------------------------------
// Restart: the last accepted revision serves at once, before any fetch.

const BROKEN = 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: broken, namespace: bookinfo}\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n      wieght: 100\n';

interface SourcesStatus {
  sources: { revision?: string; fetchedRevision?: string; lastFetchTime?: string; lastRejected?: { revision: string } }[];
}

async function sources(serve: ServeProcess): Promise<SourcesStatus['sources'][number]> {
  return ((await (await fetch(`${serve.admin}/api/v1/sources`)).json()) as SourcesStatus).sources[0]!;
}

/** An ADS client following the reviews route; `weights` are those of the last routes received (ACKed). */
async function followRoutes(t: import('ava').ExecutionContext, serve: ServeProcess): Promise<{ weights: Record<string, number>; next(): Promise<Record<string, number>> }> {
  const client = new AdsTestClient(serve.xds, grpcNode('sidecar~127.0.0.1~client.bookinfo~bookinfo.svc.cluster.local', 'bookinfo', { GENERATOR: 'grpc' }));
  t.teardown(() => client.close());
  client.request(TYPE_URL.listener, [LISTENER]);
  const lds = await client.next(TYPE_URL.listener);
  client.request(TYPE_URL.listener, [LISTENER], lds);
  const rdsName = (lds.values[0] as { api_listener: { api_listener: { rds: { route_config_name: string } } } }).api_listener.api_listener.rds.route_config_name;
  client.request(TYPE_URL.route, [rdsName]);
  const first = await client.next(TYPE_URL.route);
  client.request(TYPE_URL.route, [rdsName], first);
  const view = {
    weights: primaryWeights(first),
    async next() {
      const rds = await client.next(TYPE_URL.route, 15000);
      client.request(TYPE_URL.route, [rdsName], rds);
      view.weights = primaryWeights(rds);
      return view.weights;
    },
  };
  return view;
}

async function killHard(serve: ServeProcess): Promise<void> {
  const exited = new Promise((r) => serve.child.once('exit', r));
  serve.child.kill('SIGKILL');
  await exited;
}


async function waitFor(serve: ServeProcess, text: string): Promise<void> {
  await eventually(async () => {
    if (!serve.stdout().includes(text)) throw new Error(`"${text}" not printed yet:\n${serve.stdout()}`);
  }, 20000);
}

test.serial('restart after kill -9 with a rejected head and a hanging Git server: ready and serving the last accepted commit before the first fetch completes, then the new head', async (t) => {
  const root = await tempDir('meshcd-serve-restart-');
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const git = await startGitServer({ root });
  t.teardown(() => git.close());
  const repo = await makeRepo(root, 'platform');
  const files = await meshFiles();
  const a = await repo.commit(files, 'bookinfo');
  await repo.push();
  const args = ['--state-dir', join(root, 'state'), '--no-ca'];
  const spec = `platform=${git.url('platform.git')}#main:mesh;poll=200ms`;

  const first = await startServe(spec, args);
  t.teardown(() => first.stop());
  await eventually(async () => {
    if ((await fetch(`${first.admin}/ready`)).status !== 200) throw new Error('not ready');
  }, 20000);
  const atA = (await followRoutes(t, first)).weights;
  const b = await repo.commit({ 'mesh/bookinfo/broken.yaml': BROKEN }, 'broken');
  await repo.push();
  await waitFor(first, `rejected main@sha1:${b}`);
  await killHard(first);

  git.hold();
  const second = await startServe(spec, args);
  t.teardown(() => second.stop());
  t.teardown(() => git.release());
  await eventually(async () => {
    if ((await fetch(`${second.admin}/ready`)).status !== 200) throw new Error('not ready');
  }, 20000);
  await eventually(async () => {
    if (git.held() === 0) throw new Error('no fetch started yet');
  });
  const restored = await sources(second);
  t.is(restored.revision, `main@sha1:${a}`);
  t.is(restored.lastFetchTime, undefined, 'the first fetch has not completed');
  t.is(restored.fetchedRevision, undefined);
  const routes = await followRoutes(t, second);
  t.deepEqual(routes.weights, atA, 'the proxy gets the routes of A');
  t.true(git.held() > 0, 'still before the first fetch completes');

  git.release();
  await waitFor(second, `rejected main@sha1:${b}`);
  t.is((await sources(second)).revision, `main@sha1:${a}`, 'B is rejected again; A keeps serving');
  const vsPath = 'mesh/bookinfo/virtual-services.yaml';
  const c = await repo.commit({ 'mesh/bookinfo/broken.yaml': null, [vsPath]: files[vsPath]!.replace('weight: 100', 'weight: 90').replace('weight: 0', 'weight: 10') }, 'fix, and 10% to v3');
  await repo.push();
  t.deepEqual(Object.values(await routes.next()).sort((x, y) => x - y), [10, 90]);
  t.is((await sources(second)).revision, `main@sha1:${c}`);
  await waitFor(second, `recovered source platform: serving main@sha1:${c} after a rejected revision`);
});

test.serial('restart after kill -9 of a folder source whose content is now invalid: the last accepted content serves at once, then the fixed folder', async (t) => {
  const root = await tempDir('meshcd-serve-restart-dir-');
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const folder = join(root, 'mesh');
  const files = await meshFiles();
  for (const [p, text] of Object.entries(files)) {
    const full = join(root, p);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, text);
  }
  const args = ['--state-dir', join(root, 'state'), '--no-ca'];
  const first = await startServe(folder, args);
  t.teardown(() => first.stop());
  await eventually(async () => {
    if ((await fetch(`${first.admin}/ready`)).status !== 200) throw new Error('not ready');
  }, 20000);
  const a = (await sources(first)).revision!;
  const atA = (await followRoutes(t, first)).weights;
  await writeFile(join(folder, 'bookinfo/broken.yaml'), BROKEN);
  await waitFor(first, 'rejected dir@sha256:');
  await killHard(first);

  const second = await startServe(folder, args);
  t.teardown(() => second.stop());
  t.is((await fetch(`${second.admin}/ready`)).status, 200, 'ready as soon as the ports are announced');
  const restored = await sources(second);
  t.is(restored.revision, a);
  const routes = await followRoutes(t, second);
  t.deepEqual(routes.weights, atA);
  await eventually(async () => {
    if ((await sources(second)).lastRejected === undefined) throw new Error('the invalid folder is not evaluated yet');
  }, 20000);
  t.is((await sources(second)).revision, a, 'the invalid content is rejected; A keeps serving');

  await rm(join(folder, 'bookinfo/broken.yaml'));
  const vs = files['mesh/bookinfo/virtual-services.yaml']!;
  await writeFile(join(folder, 'bookinfo/virtual-services.yaml'), vs.replace('weight: 100', 'weight: 90').replace('weight: 0', 'weight: 10'));
  t.deepEqual(Object.values(await routes.next()).sort((x, y) => x - y), [10, 90]);
  t.not((await sources(second)).revision, a);
  await waitFor(second, 'recovered source mesh: serving dir@sha256:');
});
