// `meshcd serve` as a user runs it: flag errors exit 2 with one clear line;
// a running server answers /ready and stops with exit 0 on SIGTERM; a folder
// whose first revision is invalid still starts, reports the errors with
// file:line and is not ready.

import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { startServe, tempDir, writeFileIn } from '../helpers/xds-e2e.js';

const bin = join(process.cwd(), 'dist/src/cli/bin.js');

const bad: [string, string[], RegExp][] = [
  ['non-numeric port', ['--xds-port', 'abc'], /^error: --xds-port: "abc" is not a port number/],
  ['port out of range', ['--admin-port', '70000'], /^error: --admin-port: "70000" is not a port number/],
  ['missing source folder', ['--source', '/nonexistent/meshcd-e2e'], /^error: --source: \/nonexistent\/meshcd-e2e: no such folder/],
  ['a cluster flag without a cluster', ['--token-review', '--leader-elect'], /^error: --token-review, --leader-elect: needs a cluster \(--kubeconfig or --in-cluster\)/],
  ['a bad lease duration', ['--lease-duration', '2'], /^error: --lease-duration: "2" is not a whole number of seconds ≥ 3/],
];
for (const [title, args, re] of bad) {
  test(`serve refuses ${title} with exit 2`, (t) => {
    const r = spawnSync(process.execPath, [bin, 'serve', '--source', 'examples/mesh', '--state-dir', join(tmpdir(), 'meshcd-serve-flags'), ...args], { encoding: 'utf8', timeout: 20000 });
    t.is(r.status, 2);
    t.regex(r.stderr, re);
    t.notRegex(r.stderr, /\n\s+at /, 'no stack trace');
  });
}

test('serves examples/mesh, is ready, exits 0 on SIGTERM', async (t) => {
  const s = await startServe('examples/mesh');
  t.teardown(() => s.stop());
  t.regex(s.stdout(), /GRPC_XDS_BOOTSTRAP/);
  t.regex(s.stdout(), /"server_listener_resource_name_template":"xds\.istio\.io\/grpc\/lds\/inbound\/%s"/);
  const ready = await fetch(`${s.admin}/ready`);
  t.is(ready.status, 200);
  t.is(await s.stop(), 0);
});

test('serve without a cluster flag does not load the Kubernetes client (about 0.6 s and 45 MiB of heap)', async (t) => {
  // A resolve hook in the child names every module of @kubernetes/client-node it loads.
  const hook = 'data:text/javascript,' + encodeURIComponent("export async function resolve(s, c, n) { const r = await n(s, c); if (r.url.includes('@kubernetes/client-node')) process.stderr.write('LOADED ' + r.url + '\\n'); return r; }");
  const register = 'data:text/javascript,' + encodeURIComponent(`import { register } from 'node:module'; register(${JSON.stringify(hook)});`);
  const control = spawnSync(process.execPath, ['--import', register, '--input-type=module', '-e', "await import('@kubernetes/client-node')"], { encoding: 'utf8', timeout: 30000 });
  t.regex(control.stderr, /LOADED .*@kubernetes\/client-node/, 'the hook sees the client when it is loaded');
  const { dir, remove } = await tempDir('meshcd-e2e-nokube-');
  t.teardown(remove);
  const child = spawn(process.execPath, ['--import', register, bin, 'serve', '--source', 'examples/mesh', '--state-dir', dir, '--xds-port', '0', '--tls-port', '0', '--admin-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${err.slice(0, 500)}`)), 60_000);
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('meshcd serving')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  t.notRegex(err, /LOADED/);
});

test('an invalid first revision is reported with file:line and the server is not ready', async (t) => {
  const { dir, remove } = await tempDir('meshcd-e2e-serve-');
  t.teardown(remove);
  await writeFileIn(dir, 'vs.yaml', 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x, namespace: default}\nspec:\n  hosts: [a]\n  http:\n  - route:\n    - destination: {host: a}\n      weight: -1\n');
  const s = await startServe(dir);
  t.teardown(() => s.stop());
  t.is((await fetch(`${s.admin}/ready`)).status, 503);
  t.regex(s.stdout(), /rejected dir@sha256:[0-9a-f]+: \d+ error\(s\); still serving nothing/);
  t.regex(s.stdout(), /vs\.yaml:\d+/);
});

for (const flag of ['--xds-port', '--tls-port', '--admin-port'] as const) {
  test(`a taken ${flag} is named alone in the error, exit 2`, async (t) => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    t.teardown(() => taken.close());
    const port = String((taken.address() as AddressInfo).port);
    const { dir, remove } = await tempDir('meshcd-e2e-taken-');
    t.teardown(remove);
    const ports = { '--xds-port': '0', '--tls-port': '0', '--admin-port': '0', [flag]: port };
    const r = spawnSync(process.execPath, [bin, 'serve', '--source', 'examples/mesh', '--state-dir', dir, ...Object.entries(ports).flat()], { encoding: 'utf8', timeout: 30000 });
    t.is(r.status, 2, r.stderr);
    t.regex(r.stderr, new RegExp(`^error: ${flag}: .*127\\.0\\.0\\.1:${port}`, 'm'));
    for (const other of ['--xds-port', '--tls-port', '--admin-port'].filter((f) => f !== flag)) t.false(r.stderr.includes(other), `${other} is not blamed: ${r.stderr}`);
    t.notRegex(r.stderr, /\n\s+at /, 'no stack trace');
  });
}
