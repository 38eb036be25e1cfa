// Issue 10: a grpc-js-xds client that stays connected through several
// outlier-detection intervals must keep working. With enforcing_success_rate
// unset, grpc-js ran success-rate ejection and its sweep threw
// "Reduce of empty array with no initial value" from a timer, killing the
// client process. The client here is its own process (test/helpers/soak-client)
// calling for six 1 s intervals; it must exit 0 with zero errors.

import test from 'ava';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { renderTemplate, startBackend, startServe, tempDir, writeFileIn } from '../helpers/xds-e2e.js';

const CLIENT_ID = 'sidecar~127.0.0.1~client.bookinfo~bookinfo.svc.cluster.local';
const INTERVAL_MS = 1000;

function runClient(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(process.cwd(), 'dist/test/helpers/soak-client.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) => child.once('exit', (code) => {
    clearTimeout(killer);
    resolve({ code, stdout, stderr });
  }));
}

test('a proxyless client stays connected through six outlier-detection intervals with zero errors', async (t) => {
  const { dir, remove } = await tempDir('meshcd-e2e-outlier-');
  t.teardown(remove);
  const a = await startBackend('a');
  const b = await startBackend('b');
  t.teardown(() => Promise.all([a.close(), b.close()]));
  await writeFileIn(dir, 'details.yaml', await renderTemplate('outlier.yaml.tmpl', { P_A: a.port, P_B: b.port }));
  const serve = await startServe(dir);
  t.teardown(() => serve.stop());

  const r = await runClient(['xds:///details.bookinfo.svc.cluster.local:9070', serve.xds, CLIENT_ID, String(6 * INTERVAL_MS)]);
  t.is(r.code, 0, `client exited with ${r.code}:\n${r.stderr.slice(-2000)}`);
  const report = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { calls: number; errors: string[]; versions: Record<string, number> };
  t.log(`${report.calls} calls over ${6 * INTERVAL_MS} ms: ${JSON.stringify(report.versions)}`);
  t.deepEqual(report.errors, []);
  t.true(report.calls > 0 && (report.versions.a ?? 0) > 0 && (report.versions.b ?? 0) > 0, 'both endpoints answered');

  const syncz = (await (await fetch(`${serve.admin}/debug/syncz`)).json()) as { proxies: { proxy: string; lastNack?: unknown }[]; refused: unknown[] };
  t.deepEqual([...syncz.proxies.filter((p) => p.lastNack), ...syncz.refused], []);
});
