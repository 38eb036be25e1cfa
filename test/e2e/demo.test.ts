// The README's walkthrough, as written: `meshcd demo` on a copy of
// examples/mesh gives real traffic through the mesh (agents, mTLS, RBAC,
// grpc-js-xds backends and client); editing a weight moves the split; a
// broken file is rejected and the split stays.

import test from 'ava';
import { spawn } from 'node:child_process';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { tempDir } from '../helpers/xds-e2e.js';

const BIN = join(process.cwd(), 'dist/src/cli/bin.js');

interface Tick {
  answered: Record<string, Record<string, number>>;
  errors: Record<string, number>;
  lastError?: string;
}

test('meshcd demo: traffic through the mesh; a route edit moves the split at once, a Rollout target walks out, a broken file keeps it', async (t) => {
  t.timeout(240_000);
  const { dir, remove } = await tempDir('meshcd-demo-test-');
  t.teardown(remove);
  const mesh = join(dir, 'mesh');
  await cp(join(process.cwd(), 'examples/mesh'), mesh, { recursive: true });
  // Its own process group, so the teardown can end the demo and everything it started, whatever state it is in.
  const child = spawn(process.execPath, [BIN, 'demo', '--source', mesh, '--xds-port', '0', '--tls-port', '0', '--admin-port', '0', '-o', 'json', '--rate', '40'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  t.teardown(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const ticks: Tick[] = [];
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  void (async () => {
    for await (const line of createInterface({ input: child.stdout })) {
      lines.push(line);
      if (line.startsWith('{')) ticks.push(JSON.parse(line) as Tick);
      for (const w of waiters.splice(0)) w();
    }
  })();
  /** Waits until `n` ticks in a row satisfy `ok`; fails with what was seen. */
  const until = async (what: string, ok: (tk: Tick) => boolean, n = 3, ms = 150_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const last = ticks.slice(-n);
      if (last.length === n && last.every(ok)) return;
      if (Date.now() > end || child.exitCode !== null) t.fail(`${what}: not seen; last ticks ${JSON.stringify(ticks.slice(-3))}\n${lines.filter((l) => !l.startsWith('{')).join('\n')}\n${stderr}`);
      if (Date.now() > end || child.exitCode !== null) return;
      // A new line, or a second passing: a demo that prints nothing still runs into the deadline.
      await Promise.race([new Promise<void>((r) => waiters.push(r)), new Promise((r) => setTimeout(r, 1000))]);
    }
  };
  const share = (tk: Tick, app: string, version: RegExp) => {
    const per = tk.answered[app] ?? {};
    const total = Object.values(per).reduce((a, b) => a + b, 0);
    return total ? Object.entries(per).filter(([v]) => version.test(v)).reduce((a, [, n]) => a + n, 0) / total : 0;
  };
  const noErrors = (tk: Tick) => Object.keys(tk.errors).length === 0;

  // As shipped: reviews v1 for everyone, v2 (which calls ratings) for end-user jason (20%), details v1.
  await until('v1 + v2→ratings split with zero errors', (tk) => noErrors(tk) && share(tk, 'reviews', /^v1$/) > 0.5 && share(tk, 'reviews', /^v2 → ratings v1$/) > 0 && share(tk, 'details', /^v1$/) === 1);
  t.true(lines.some((l) => l.includes('agents: a SPIFFE certificate each')));

  // Edit a route: the testers route (end-user: jason) from v2 to v3 moves that share at once.
  const vsFile = join(mesh, 'bookinfo/virtual-services.yaml');
  const vs = await readFile(vsFile, 'utf8');
  const testersToV3 = vs.replace(/(- name: testers\n(?:.*\n)*?\s+subset: )v2/, '$1v3');
  t.not(testersToV3, vs, 'the testers route in examples/mesh is where the README says');
  await writeFile(vsFile, testersToV3);
  await until('the jason share moved to v3', (tk) => noErrors(tk) && share(tk, 'reviews', /^v3 → ratings v1$/) > 0 && share(tk, 'reviews', /^v2/) === 0 && share(tk, 'reviews', /^v1$/) > 0.5);

  // Walk a change out: the primary route is a Rollout's target, so 100/0 → 0/100 starts at its first step (setWeight 10), not at once.
  const primaryToV3 = testersToV3.replace(/subset: v1\n      weight: 100\n(\s+- destination:\n\s+host: reviews\n\s+subset: v3\n\s+)weight: 0/, 'subset: v1\n      weight: 0\n$1weight: 100');
  t.not(primaryToV3, testersToV3, 'the primary weights in examples/mesh are where the README says');
  await writeFile(vsFile, primaryToV3);
  // The rollout says where it is (admin API), and the traffic agrees: 10% of the 80% non-jason calls (8% of all) go to v3, jason's 20% already does.
  const admin = /admin (http:\/\/127\.0\.0\.1:\d+)/.exec(lines.join('\n'))?.[1];
  t.truthy(admin, 'the demo prints the admin URL');
  let status: { phase?: string; canaryWeight?: number } = {};
  const statusDeadline = Date.now() + 60_000;
  while (Date.now() < statusDeadline && !((status.phase === 'Progressing' || status.phase === 'Paused') && status.canaryWeight === 10)) {
    await new Promise((r) => setTimeout(r, 500));
    const r = await fetch(`${admin}/api/v1/rollouts/bookinfo/reviews`).catch(() => undefined);
    if (r?.ok) status = (await r.json()) as typeof status;
  }
  t.true(['Progressing', 'Paused'].includes(status.phase ?? ''), `rollout phase ${status.phase}`);
  t.is(status.canaryWeight, 10);
  const from = ticks.length + 2;
  await until('six ticks at the first step', () => ticks.length >= from + 6, 1);
  const window = ticks.slice(from, from + 6);
  const merged: Tick = { answered: {}, errors: {} };
  for (const tk of window) {
    for (const [app, per] of Object.entries(tk.answered)) for (const [v, n] of Object.entries(per)) (merged.answered[app] ??= {})[v] = (merged.answered[app]![v] ?? 0) + n;
    for (const [c, n] of Object.entries(tk.errors)) merged.errors[c] = (merged.errors[c] ?? 0) + n;
  }
  t.deepEqual(merged.errors, {});
  const v3 = share(merged, 'reviews', /^v3 → ratings v1$/);
  t.true(v3 > 0.235 && v3 < 0.4, `v3 share at setWeight 10: ${v3}`);
  const edited = primaryToV3;

  // Break the file: rejected with file:line, the v3 split keeps serving.
  await writeFile(vsFile, edited.replace('  http:\n  - name: testers', '  http:\n  - name: testers\n    bogusField: 1'));
  const before = lines.length;
  await until('rejected and still serving', (tk) => noErrors(tk) && share(tk, 'reviews', /^v1$/) > 0.5 && share(tk, 'reviews', /^v3 → ratings v1$/) > 0.1, 3);
  const deadline = Date.now() + 30_000;
  while (!lines.slice(before).some((l) => /rejected/.test(l)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  t.true(lines.some((l) => /serve │ rejected/.test(l)), lines.join('\n'));
  t.true(lines.some((l) => /virtual-services\.yaml:\d+/.test(l)), 'the rejection names file:line');

  child.kill('SIGINT');
  t.is(await exited, 0, stderr);
});
