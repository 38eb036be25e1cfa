// Progressive rollout end to end, without Prometheus: `meshcd serve` (the
// real CLI) on a folder with a Rollout of pause steps; the VirtualService
// changes from v1 to v2; @grpc/grpc-js-xds clients see the split follow the
// steps; `meshcd rollout status -o json` at each step; `promote` refused
// without the admin token and accepted with it; zero NACKs.

import test from 'ava';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { callEcho, eventually, renderTemplate, startBackend, startServe, tempDir, writeFileIn, xdsClient, type Backend, type ServeProcess } from '../helpers/xds-e2e.js';

const REVIEWS = 'xds:///reviews.bookinfo.svc.cluster.local:9080';
const CLIENT_ID = 'sidecar~127.0.0.1~client.bookinfo~bookinfo.svc.cluster.local';
const BIN = join(process.cwd(), 'dist/src/cli/bin.js');

/** The shared e2e mesh; its `split` route is the one the Rollout walks out. */
const mesh = (p1: number, p2: number, w1: number, w2: number) => renderTemplate('mesh.yaml.tmpl', { P_V1: p1, P_V2: p2, WEIGHT_V1: w1, WEIGHT_V2: w2 });

const ROLLOUT = `apiVersion: meshcd.io/v1alpha1
kind: Rollout
metadata: {name: reviews, namespace: bookinfo}
spec:
  target: {virtualService: reviews, route: split}
  steps:
  - setWeight: 25
  - pause: {}
  - setWeight: 75
  - pause: {}
  writeBack: none
`;

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'rollout', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MESHCD_TOKEN_FILE: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Status {
  phase: string;
  stepIndex: number;
  canaryWeight: number;
  history: { message: string }[];
}

async function status(serve: ServeProcess): Promise<Status> {
  const r = await cli(['status', 'bookinfo/reviews', '--server', serve.admin, '-o', 'json']);
  if (r.code !== 0) throw new Error(`rollout status exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Status;
}

/** Share of v2 over n calls. */
async function v2Share(client: Awaited<ReturnType<typeof xdsClient>>, n = 400): Promise<number> {
  let v2 = 0;
  for (let i = 0; i < n; i += 50) {
    const batch = await Promise.all(Array.from({ length: 50 }, () => callEcho(client)));
    v2 += batch.filter((r) => r.version === 'v2').length;
  }
  return (v2 / n) * 100;
}

async function shareWithin(client: Awaited<ReturnType<typeof xdsClient>>, lo: number, hi: number): Promise<number> {
  return eventually(async () => {
    const s = await v2Share(client);
    if (s < lo || s > hi) throw new Error(`v2 share ${s.toFixed(1)}% not in ${lo}..${hi}`);
    return s;
  }, 20000, 200);
}

test('a VirtualService change walks out through pause steps, promoted with the admin token; clients follow the split', async (t) => {
  const { dir, remove } = await tempDir('meshcd-e2e-rollout-');
  t.teardown(remove);
  const backends: Backend[] = [await startBackend('v1'), await startBackend('v2')];
  t.teardown(() => Promise.all(backends.map((b) => b.close())));
  const [v1, v2] = backends as [Backend, Backend];
  await writeFileIn(dir, 'mesh.yaml', await mesh(v1.port, v2.port, 100, 0));
  await writeFileIn(dir, 'rollout.yaml', ROLLOUT);
  const { dir: secrets, remove: removeSecrets } = await tempDir('meshcd-e2e-rollout-token-');
  t.teardown(removeSecrets);
  const tokenFile = join(secrets, 'admin-token');
  await writeFileIn(secrets, 'admin-token', 'e2e-rollout-token-0123456789\n');
  const wrongFile = join(secrets, 'wrong-token');
  await writeFileIn(secrets, 'wrong-token', 'not-the-token\n');
  const serve = await startServe(dir, ['--no-ca', '--admin-token-file', tokenFile]);
  t.teardown(() => serve.stop());

  const client = await xdsClient(REVIEWS, serve.xds, CLIENT_ID);
  t.teardown(() => client.close());
  await eventually(() => callEcho(client, {}, {}, 2000), 15000);
  t.is(await v2Share(client, 100), 0);
  t.like(await status(serve), { phase: 'Idle', canaryWeight: 0 });

  // The pull request: all traffic to v2. meshcd walks it out: 25%, then waits.
  await writeFileIn(dir, 'mesh.yaml', await mesh(v1.port, v2.port, 0, 100));
  const first = await eventually(async () => {
    const s = await status(serve);
    if (s.phase !== 'Paused') throw new Error(`phase ${s.phase}`);
    return s;
  }, 20000, 200);
  t.like(first, { phase: 'Paused', stepIndex: 1, canaryWeight: 25 });
  t.log(`step 1: v2 share ${(await shareWithin(client, 10, 40)).toFixed(1)}%`);

  // Mutating commands need the token: refused without it, and with a wrong one (exit 2).
  const refused = await cli(['promote', 'bookinfo/reviews', '--server', serve.admin]);
  t.is(refused.code, 2);
  t.regex(refused.stderr, /missing bearer token/);
  const wrong = await cli(['promote', 'bookinfo/reviews', '--server', serve.admin, '--token-file', wrongFile]);
  t.is(wrong.code, 2);
  t.regex(wrong.stderr, /wrong admin token/);
  t.false(wrong.stderr.includes('not-the-token'));
  t.like(await status(serve), { stepIndex: 1, canaryWeight: 25 });

  const promoted = await cli(['promote', 'bookinfo/reviews', '--server', serve.admin, '-o', 'json'], { MESHCD_TOKEN_FILE: tokenFile });
  t.is(promoted.code, 0, promoted.stderr);
  t.like(JSON.parse(promoted.stdout), { phase: 'Paused', stepIndex: 3, canaryWeight: 75 });
  t.like(await status(serve), { phase: 'Paused', stepIndex: 3, canaryWeight: 75 });
  t.log(`step 3: v2 share ${(await shareWithin(client, 60, 90)).toFixed(1)}%`);

  const done = await cli(['promote', 'bookinfo/reviews', '--server', serve.admin, '--token-file', tokenFile]);
  t.is(done.code, 0, done.stderr);
  t.like(await status(serve), { phase: 'Succeeded', canaryWeight: 100 });
  await shareWithin(client, 100, 100);

  // Nothing left to promote: exit 1 with the reason.
  const again = await cli(['promote', 'bookinfo/reviews', '--server', serve.admin, '--token-file', tokenFile]);
  t.is(again.code, 1);
  t.regex(again.stderr, /nothing to promote: the rollout is Succeeded/);
  const list = await cli(['list', '--server', serve.admin]);
  t.regex(list.stdout, /bookinfo\/reviews\s+Succeeded\s+step 4\/4\s+100%/);

  const syncz = (await (await fetch(`${serve.admin}/debug/syncz`)).json()) as { proxies: { lastNack?: unknown }[] };
  t.deepEqual(syncz.proxies.filter((p) => p.lastNack), []);
});
