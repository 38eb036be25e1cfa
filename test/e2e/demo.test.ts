// The README's walkthrough, as written: `meshcd demo` on a copy of
// examples/mesh gives real traffic through the mesh (agents, mTLS, RBAC,
// grpc-js-xds backends and client); editing a weight moves the split; a
// Rollout target walks out, and the `npx meshcd rollout status|promote` lines
// the demo prints run as printed; a broken file is rejected and the split
// stays. Both tests bind the example's fixed addresses (127.0.0.10–15,
// ports 9080–9085), so they run one after the other.

import test, { type ExecutionContext } from 'ava';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { serverNacks } from '../helpers/go-grpc-client.js';
import { tempDir } from '../helpers/xds-e2e.js';

const BIN = join(process.cwd(), 'dist/src/cli/bin.js');

/** A command line as a person pastes it into a shell in the clone (`npx meshcd …` runs the built CLI there). */
function shell(line: string, cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', ['-c', line], { cwd, env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Tick {
  answered: Record<string, Record<string, number>>;
  errors: Record<string, number>;
  lastError?: string;
}

interface DemoRun {
  child: ChildProcess;
  exited: Promise<number | null>;
  lines: string[];
  ticks: Tick[];
  /** Resolved on the next line the demo prints. */
  waiters: (() => void)[];
  stderr(): string;
}

/**
 * `meshcd demo -o json` on a copy of examples/mesh (returned as `mesh`), on free serve ports, as
 * under `npm start` (npm sets npm_lifecycle_event: the demo prints its commands as `npx meshcd …`,
 * which runs in a fresh clone). Its own process group, so the teardown ends it and everything it
 * started, whatever state it is in.
 */
async function startDemo(t: ExecutionContext, prefix: string, extra: string[] = []): Promise<DemoRun & { mesh: string }> {
  const { dir, remove } = await tempDir(prefix);
  t.teardown(remove);
  const mesh = join(dir, 'mesh');
  await cp(join(process.cwd(), 'examples/mesh'), mesh, { recursive: true });
  const child = spawn(process.execPath, [BIN, 'demo', '--source', mesh, '--xds-port', '0', '--tls-port', '0', '--admin-port', '0', '-o', 'json', '--rate', '40', ...extra], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, npm_lifecycle_event: 'start' } });
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  t.teardown(async () => {
    // The whole group, and wait until it is gone: the next test binds the same workload ports.
    const alive = () => {
      try {
        process.kill(-child.pid!, 0);
        return true;
      } catch {
        return false;
      }
    };
    if (alive()) process.kill(-child.pid!, 'SIGKILL');
    for (const end = Date.now() + 10_000; alive() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 100));
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const run: DemoRun = { child, exited, lines: [], ticks: [], waiters: [], stderr: () => stderr };
  void (async () => {
    for await (const line of createInterface({ input: child.stdout! })) {
      run.lines.push(line);
      if (line.startsWith('{')) run.ticks.push(JSON.parse(line) as Tick);
      for (const w of run.waiters.splice(0)) w();
    }
  })();
  return { ...run, mesh };
}

test.serial('meshcd demo: traffic through the mesh; a route edit moves the split at once, a Rollout target walks out, a broken file keeps it', async (t) => {
  t.timeout(420_000, 'three 30 s analysis rounds after the walkthrough, on a busy machine');
  const { child, exited, lines, ticks, waiters, stderr: demoStderr, mesh } = await startDemo(t, 'meshcd-demo-test-');
  /** Waits until `n` ticks in a row satisfy `ok`; fails with what was seen. */
  const until = async (what: string, ok: (tk: Tick) => boolean, n = 3, ms = 150_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const last = ticks.slice(-n);
      if (last.length === n && last.every(ok)) return;
      if (Date.now() > end || child.exitCode !== null) t.fail(`${what}: not seen; last ticks ${JSON.stringify(ticks.slice(-3))}\n${lines.filter((l) => !l.startsWith('{')).join('\n')}\n${demoStderr()}`);
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
  // The command the demo prints (and the README shows), run as printed from the clone.
  const printed = /rollouts: (npx meshcd rollout status bookinfo\/reviews --server \S+) +\(promote: (MESHCD_TOKEN_FILE=\S+ npx meshcd rollout promote bookinfo\/reviews --server \S+)\)/.exec(lines.join('\n'));
  t.truthy(printed, `the demo prints the rollout commands:\n${lines.filter((l) => !l.startsWith('{')).join('\n')}`);
  const statusCmd = shell(printed![1]!);
  t.is(statusCmd.status, 0, statusCmd.stderr);
  t.regex(statusCmd.stdout, /^bookinfo\/reviews: (Progressing|Paused), step \d+\/7, canary weight 10%/m);
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


  // The printed promote (with the admin token file the demo made) skips the 1 min pause: the rollout goes on to 50%.
  const promote = shell(printed![2]!);
  t.is(promote.status, 0, promote.stderr + promote.stdout);
  let after = '';
  for (const end = Date.now() + 30_000; Date.now() < end && !/canary weight 50%/.test(after); await new Promise((r) => setTimeout(r, 500))) after = shell(printed![1]!).stdout;
  t.regex(after, /canary weight 50%/);
  // The shipped analysis passes a healthy v3 (the README: the rollout walks on and waits for promote):
  // three 30 s rounds of every metric, none failed, the rollout still going.
  type Analysis = { phase: string; analysis?: { failures: number; metrics: Record<string, { recent: { verdict: string; message?: string }[] }> } };
  let st: Analysis = { phase: '' };
  for (const end = Date.now() + 150_000; Date.now() < end; await new Promise((r) => setTimeout(r, 2000))) {
    st = JSON.parse(shell(`${printed![1]!} -o json`).stdout || '{}') as Analysis;
    const m = Object.values(st.analysis?.metrics ?? {});
    if (st.phase === 'Failed' || (m.length === 3 && m.every((x) => x.recent.length >= 3))) break;
  }
  t.log(Object.entries(st.analysis?.metrics ?? {}).map(([k, m]) => `${k}: ${m.recent.map((r) => r.verdict).join(',')}`).join('; '));
  t.true(['Progressing', 'Paused'].includes(st.phase), `after three analysis rounds the rollout is ${st.phase}`);
  t.is(st.analysis?.failures, 0);
  t.true(Object.values(st.analysis?.metrics ?? {}).every((x) => x.recent.length >= 3 && x.recent.every((r) => r.verdict === 'success')), Object.values(st.analysis?.metrics ?? {}).flatMap((x) => x.recent.map((r) => r.message)).join('\n'));

  // Without the token the same command is refused (exit 2), naming what to give.
  const refused = shell(printed![2]!.replace(/^MESHCD_TOKEN_FILE=\S+ /, ''));
  t.is(refused.status, 2);
  t.regex(refused.stderr, /MESHCD_TOKEN_FILE|--token-file/);

  t.deepEqual(await serverNacks(admin!), [], 'no proxy NACKed anything (meshcd\'s /debug/syncz)');
  child.kill('SIGINT');
  t.is(await exited, 0, demoStderr());
});

// Issue 10: the GRPC_XDS_BOOTSTRAP that `meshcd serve` prints must work against
// the example as shipped (ISTIO_MUTUAL, STRICT, AuthorizationPolicies). The
// README's "Your own client" section, run as written: its shell lines make the
// token files, serve starts with them (on free ports), the printed agent line
// writes the certificate files, and a grpc-js-xds client with exactly the
// printed bootstrap calls reviews and details. The example's workloads are the
// demo's backends (with their own agents), on the WorkloadEntries' addresses.
test.serial("README 'Your own client': a grpc-js-xds client with exactly the bootstrap serve prints calls through the example as shipped, zero NACKs", async (t) => {
  t.timeout(180_000);
  const { dir, remove } = await tempDir('meshcd-own-client-');
  t.teardown(remove);
  const readme = await readFile(join(process.cwd(), 'README.md'), 'utf8');
  const block = /### Your own client\n[^]*?```sh\n([^]*?)```/.exec(readme)?.[1];
  t.truthy(block, 'README has a "Your own client" section with a sh block');
  const commands = block!.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  const serveAt = commands.findIndex((l) => /^npx meshcd serve /.test(l));
  t.true(serveAt > 0, `the block ends with npx meshcd serve: ${block}`);
  const setup = shell(commands.slice(0, serveAt).join('\n'), dir);
  t.is(setup.status, 0, setup.stderr);
  t.regex(await readFile(join(dir, 'tokens.yaml'), 'utf8'), /serviceAccount: bookinfo-productpage/);

  // serve as the README runs it, from that folder, on free ports; its default source is the clone's examples/mesh.
  const serveArgs = commands[serveAt]!.replace(/^npx meshcd serve /, '').split(/\s+/);
  const { startServe } = await import('../helpers/xds-e2e.js');
  // The example's own workloads need certificates too: tokens for their service accounts, beside the README's one (the file is watched).
  const { WORKLOADS, Processes, startAgents, startBackends, takenPorts } = await import('../../src/demo/run.js');
  t.deepEqual(await takenPorts(WORKLOADS.filter((w) => w.app !== 'productpage').map((w) => w.port)), [], "the example's WorkloadEntry ports are free");
  const serve = await startServe(join(process.cwd(), 'examples/mesh'), [...serveArgs.map((a) => (a === 'tokens.yaml' ? join(dir, a) : a)), '--state-dir', join(dir, '.meshcd')]);
  t.teardown(() => serve.stop());
  const out = serve.stdout();
  const agentLine = /^ {2}(meshcd agent .*)$/m.exec(out)?.[1];
  const bootstrapLine = /^(\{"xds_servers".*)$/m.exec(out)?.[1];
  t.truthy(agentLine, out);
  t.truthy(bootstrapLine, out);
  t.regex(bootstrapLine!, /"certificate_providers":\{"default":\{"plugin_name":"file_watcher"/);

  const procs = new Processes(dir);
  t.teardown(() => procs.stopAll());
  const backendTokens = [...new Set(WORKLOADS.filter((w) => w.app !== 'productpage').map((w) => w.serviceAccount))].map((sa) => [sa, `${sa}-token-${Date.now()}-0123456789`] as const);
  const tokensYaml = await readFile(join(dir, 'tokens.yaml'), 'utf8');
  await writeFile(join(dir, 'tokens.yaml'), `tokens:\n${tokensYaml.replace(/^tokens: \[(.*)\]\s*$/s, '  - $1\n')}${backendTokens.map(([sa, tok]) => `  - {token: "${tok}", namespace: bookinfo, serviceAccount: ${sa}}\n`).join('')}`);
  for (const [sa, tok] of backendTokens) await writeFile(join(dir, `${sa}.token`), tok, { mode: 0o600 });
  const bundle = join(dir, 'bundle.pem');
  await writeFile(bundle, await (await fetch(`${serve.admin}/ca/trust-bundle.pem`)).text());

  // The printed agent line, TOKEN_FILE replaced by the README's token file (`npx meshcd` in the clone; the files are in `dir`).
  const agentLog = openSync(join(dir, 'agent.log'), 'w');
  const agent = spawn('bash', ['-c', `exec ${agentLine!.replace(/^meshcd /, 'npx meshcd ').replace('TOKEN_FILE', join(dir, 'productpage.token'))}`], { stdio: ['ignore', agentLog, agentLog], detached: true });
  t.teardown(() => {
    try {
      process.kill(-agent.pid!, 'SIGTERM');
    } catch {
      /* gone */
    }
  });
  await writeFile(join(dir, 'bootstrap.json'), bootstrapLine!);
  const certFile = (JSON.parse(bootstrapLine!) as { certificate_providers: { default: { config: { certificate_file: string } } } }).certificate_providers.default.config.certificate_file;
  const workloads = WORKLOADS.filter((w) => w.app !== 'productpage');
  const bootstraps = await startAgents(procs, workloads, { dir, tls: serve.tls!, xds: serve.xds, bundle, tokenFile: (sa) => join(dir, `${sa}.token`) });
  startBackends(procs, workloads, bootstraps, {}, () => undefined);
  for (const end = Date.now() + 30_000; Date.now() < end && !existsSync(certFile); ) await new Promise((r) => setTimeout(r, 200));
  t.true(existsSync(certFile), `the printed agent line wrote ${certFile}:\n${await readFile(join(dir, 'agent.log'), 'utf8').catch(() => '')}`);

  // A grpc-js-xds client (the demo's client program: productpage calling reviews and details) with exactly that bootstrap.
  const client = spawn(process.execPath, [join(process.cwd(), 'dist/src/demo/client.js'), '40', '20'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GRPC_XDS_BOOTSTRAP: join(dir, 'bootstrap.json') } });
  t.teardown(() => client.kill('SIGKILL'));
  const ticks: Tick[] = [];
  void (async () => {
    for await (const line of createInterface({ input: client.stdout })) if (line.startsWith('{')) ticks.push(JSON.parse(line) as Tick);
  })();
  const good = (tk: Tick) => Object.keys(tk.errors).length === 0 && Object.keys(tk.answered.reviews ?? {}).length > 0 && (tk.answered.details?.v1 ?? 0) > 0;
  for (const end = Date.now() + 90_000; Date.now() < end && !(ticks.length >= 3 && ticks.slice(-3).every(good)); ) await new Promise((r) => setTimeout(r, 500));
  t.true(ticks.length >= 3 && ticks.slice(-3).every(good), `three clean seconds of calls through the example: ${JSON.stringify(ticks.slice(-3))}`);
  const syncz = (await (await fetch(`${serve.admin}/debug/syncz`)).json()) as { proxies: { proxy: string }[] };
  t.true(syncz.proxies.some((p) => p.proxy === 'sidecar~127.0.0.1~client.bookinfo~bookinfo.svc.cluster.local'), 'the client is connected with the printed node id');
  t.deepEqual(await serverNacks(serve.admin), [], 'zero NACKs');
});

/** Runs a command line in its own process group until `done(stdout)` holds (or `ms` pass), then Ctrl-C. */
async function runUntil(line: string, done: (out: string) => boolean, ms: number): Promise<{ out: string; err: string; code: number | null; seen: boolean }> {
  const child = spawn('bash', ['-c', `exec ${line}`], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  const end = Date.now() + ms;
  while (Date.now() < end && child.exitCode === null && !done(out)) await new Promise((r) => setTimeout(r, 250));
  const seen = done(out);
  // Ctrl-C reaches the whole process group, as in a terminal.
  try {
    process.kill(-child.pid!, 'SIGINT');
  } catch {
    /* gone */
  }
  const killer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 15_000);
  const code = await exited;
  clearTimeout(killer);
  return { out, err, code, seen };
}

test.serial('the quick start as written: `npm start` shows the split with zero errors and Ctrl-C stops it all; `npm run serve` serves the examples; `npx meshcd demo --help` lists the flags', async (t) => {
  t.timeout(300_000);
  const ticks = (out: string) => out.split('\n').filter((l) => /^\d\d:\d\d:\d\d {2}reviews: v1 +\d+%.*│ {2}details: v1 100% {2}│ {2}errors: 0$/.test(l));
  const start = await runUntil('npm start', (out) => ticks(out).length >= 3, 180_000);
  t.true(start.seen, `npm start: no clean split in 3 min\n${start.out}\n${start.err.slice(-3000)}`);
  t.regex(start.err, /^building meshcd/m, 'npm start says it is building first');
  t.regex(start.out, /rollouts: npx meshcd rollout status bookinfo\/reviews --server http:\/\/127\.0\.0\.1:15014/);
  t.regex(start.out, /your own client: GRPC_XDS_BOOTSTRAP=\S+productpage-v1\.bootstrap\.json/);
  t.notRegex(start.out + start.err, /\n\s+at .+\(.+:\d+:\d+\)/, 'no stack trace');
  const gone = async (what: string) => t.false(await fetch('http://127.0.0.1:15014/ready').then(() => true, () => false), `${what}: nothing answers on 15014 after Ctrl-C`);
  await gone('npm start');

  const serve = await runUntil('npm run serve', (out) => /^\{"xds_servers"/m.test(out), 120_000);
  t.true(serve.seen, `npm run serve printed no bootstrap\n${serve.out}\n${serve.err.slice(-3000)}`);
  t.regex(serve.out, /xDS \(ADS, plaintext gRPC\): 127\.0\.0\.1:15010/);
  t.regex(serve.out, /accepted dir@sha256:/);
  await gone('npm run serve');

  const help = shell('npx meshcd demo --help');
  t.is(help.status, 0, help.stderr);
  for (const flag of ['--duration', '--rate', '--fail', '--keep']) t.true(help.stdout.includes(flag), `demo --help lists ${flag}`);
});

test.serial('the README\'s `meshcd demo --fail v3=20`: v3 failing 20% of its calls fails the success-rate check, the Rollout rolls back and traffic returns to v1', async (t) => {
  t.timeout(360_000);
  const { child, exited, lines, ticks, stderr, mesh } = await startDemo(t, 'meshcd-demo-fail-', ['--fail', 'v3=20']);
  const waitFor = async (what: string, ok: () => boolean, ms: number) => {
    const end = Date.now() + ms;
    while (!ok() && Date.now() < end && child.exitCode === null) await new Promise((r) => setTimeout(r, 500));
    if (!ok()) t.fail(`${what}: not seen in ${ms / 1000} s\n${lines.filter((l) => !l.startsWith('{')).join('\n')}\n${JSON.stringify(ticks.slice(-3))}\n${stderr().slice(-3000)}`);
  };
  const reviewsBy = (tk: Tick, v: RegExp) => Object.entries(tk.answered.reviews ?? {}).filter(([k]) => v.test(k)).reduce((a, [, n]) => a + n, 0);
  await waitFor('traffic', () => ticks.length >= 2 && reviewsBy(ticks.at(-1)!, /^v1$/) > 0, 150_000);
  t.true(lines.some((l) => /Prometheus http:\/\/127\.0\.0\.1:\d+ scrapes/.test(l)), 'the demo runs a Prometheus (the Debian package is installed by .ci/deps)');
  const status = /rollouts: (npx meshcd rollout status bookinfo\/reviews --server \S+)/.exec(lines.join('\n'))![1]!;

  // The README's "walk a change out": primary v1 100 / v3 0 → v1 0 / v3 100.
  const vsFile = join(mesh, 'bookinfo/virtual-services.yaml');
  const vs = await readFile(vsFile, 'utf8');
  const toV3 = vs.replace(/subset: v1\n      weight: 100\n(\s+- destination:\n\s+host: reviews\n\s+subset: v3\n\s+)weight: 0/, 'subset: v1\n      weight: 0\n$1weight: 100');
  t.not(toV3, vs);
  await writeFile(vsFile, toV3);
  let text = '';
  await waitFor('v3 serving a canary share', () => ticks.slice(-5).some((tk) => reviewsBy(tk, /^v3/) > 0), 60_000);
  // Three failed measurements of the 30 s analysis (failureLimit 2): about a minute and a half.
  await waitFor('the Rollout failed on its analysis', () => /: Failed, /.test((text = shell(status).stdout)), 240_000);
  t.log(text);
  t.regex(text, /success-rate: failure \(0\.[0-9]+/, 'the success-rate check is what failed');
  const rate = Number(/success-rate: failure \((0\.[0-9]+)/.exec(text)?.[1]);
  t.true(rate > 0.6 && rate < 0.95, `v3's measured success rate ${rate} is about 0.8`);
  let wb = '';
  await waitFor('the write-back outcome', () => /write-back: not done/.test((wb = shell(status).stdout)), 30_000);
  t.notRegex(wb, /trying a branch|Git still states/, 'a folder source: no branch is tried and nothing is said of Git');
  // Rolled back at once: within seconds reviews are back on v1 (v2 for jason, as shipped), nothing on v3.
  const clean = (tk: Tick) => reviewsBy(tk, /^v3/) === 0 && reviewsBy(tk, /^v1$/) > 0;
  const from = ticks.length;
  await waitFor('three ticks in a row on the old routing', () => ticks.length >= from + 3 && ticks.slice(-3).every(clean), 20_000);
  t.log(`ticks since the status said Failed: ${ticks.slice(from).map((tk) => JSON.stringify(tk.answered.reviews)).join(' ')}`);
  t.deepEqual(await serverNacks(/admin (http:\/\/127\.0\.0\.1:\d+)/.exec(lines.join('\n'))![1]!), [], "no proxy NACKed anything (meshcd's /debug/syncz)");
  child.kill('SIGINT');
  t.is(await exited, 0, stderr().slice(-2000));
});

test.serial('a WorkloadEntry port already in use (a second demo, say) stops the demo at once with exit 2 naming the port', async (t) => {
  const { createServer } = await import('node:net');
  const holder = createServer();
  await new Promise<void>((r) => holder.listen(9083, '127.0.0.13', r));
  t.teardown(() => holder.close());
  const r = spawnSync(process.execPath, [BIN, 'demo', '--xds-port', '0', '--tls-port', '0', '--admin-port', '0', '--duration', '5s'], { encoding: 'utf8', timeout: 60_000 });
  t.is(r.status, 2, r.stdout + r.stderr);
  t.regex(r.stderr, /^error: demo: port 9083 is in use \(another meshcd demo or npm start\?\)/m);
  t.notRegex(r.stderr, /\n\s+at /, 'no stack trace');
});
