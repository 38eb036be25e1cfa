// `meshcd ca` and `meshcd agent` as users run them: the built CLI in child
// processes, exit codes and one-line errors for bad input.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority } from '../../src/ca/authority.js';

const BIN = 'dist/src/cli/bin.js';

function meshcd(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, MESHCD_LOG_LEVEL: 'warn' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function temp(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshcd-ca-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('ca status/rotate on a folder without a CA: exit 2, one line naming the folder', (t) => {
  const dir = temp(t);
  for (const cmd of ['status', 'rotate']) {
    const r = meshcd('ca', cmd, '--state-dir', dir);
    t.is(r.code, 2, cmd);
    t.regex(r.stderr, /^error: CA in .*: .*no CA here yet/m, cmd);
    t.notRegex(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('ca serve creates the CA; status (text/json) and rotate work beside it; bad flags are exit 2', async (t) => {
  const dir = temp(t);
  writeFileSync(join(dir, 'tokens.yaml'), 'tokens:\n  - token: cli-test-token-0123456789\n    namespace: a\n    serviceAccount: b\n');
  const child = spawn(process.execPath, [BIN, 'ca', 'serve', '--state-dir', dir, '--port', '0', '--token-file', join(dir, 'tokens.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready: ${out}`)), 45000);
    child.stdout.on('data', () => /listening on/.test(out) && (clearTimeout(timer), resolve()));
  });
  t.regex(out, /meshcd CA listening on 127\.0\.0\.1:\d+ \(trust domain cluster\.local, self-signed\)/);
  t.is(statSync(join(dir, 'ca', 'root-key.pem')).mode & 0o777, 0o600);

  const text = meshcd('ca', 'status', '--state-dir', dir);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /rotation: +idle/);
  const rot = meshcd('ca', 'rotate', '--state-dir', dir, '-o', 'json');
  t.is(rot.code, 0, rot.stderr);
  const s = JSON.parse(rot.stdout) as { rotation: { phase: string }; roots: unknown[] };
  // No live certificates: the new root takes over at once.
  t.is(s.rotation.phase, 'idle');
  t.is(s.roots.length, 1);
  const yaml = meshcd('ca', 'status', '--state-dir', dir, '-o', 'yaml');
  t.regex(yaml.stdout, /phase: idle/);
  t.is(meshcd('ca', 'status', '--state-dir', dir, '-o', 'xml').code, 2);

  child.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  t.is(code, 0, 'clean shutdown on SIGTERM');

  const badPort = meshcd('ca', 'serve', '--state-dir', dir, '--port', '99999');
  t.is(badPort.code, 2);
  t.regex(badPort.stderr, /--port: "99999" is not a port number/);
  const badTokens = meshcd('ca', 'serve', '--state-dir', dir, '--port', '0', '--token-file', join(dir, 'missing.yaml'));
  t.is(badTokens.code, 2);
  t.regex(badTokens.stderr, /--token-file: .*missing\.yaml: token file not found/);
  const badTtl = meshcd('ca', 'serve', '--state-dir', dir, '--port', '0', '--max-ttl', '3 days');
  t.is(badTtl.code, 2);
  t.regex(badTtl.stderr, /--max-ttl: "3 days" is not a duration/);
  writeFileSync(join(dir, 'ca', 'roots.json'), '{not json');
  const broken = meshcd('ca', 'status', '--state-dir', dir);
  t.is(broken.code, 2);
  t.regex(broken.stderr, /roots\.json: not a valid meshcd roots file/);
});

test('agent: flag errors are one line with exit 2; a token is never accepted on the command line', (t) => {
  const dir = temp(t);
  const base = ['agent', '--ca-address', '127.0.0.1:15012', '--ca-root-cert', join(dir, 'root.pem'), '--namespace', 'shop', '--service-account', 'cart', '--output-dir', join(dir, 'out')];
  const cases: [string[], RegExp][] = [
    [['--token', 'secret-token'], /unknown option '--token'/],
    [['--ca-address', 'nohostport'], /--ca-address: "nohostport" is not host:port/],
    [['--proxy-kind', 'mesh'], /--proxy-kind: "mesh" is not one of grpc, sidecar/],
    [['--labels', 'app'], /--labels: "app" is not key=value/],
    [['--ip', 'not-an-ip'], /--ip: "not-an-ip" is not an IP address/],
    [['--bootstrap-out', join(dir, 'b.json')], /--bootstrap-out needs --xds-address/],
    [['--ttl', 'soon'], /--ttl: "soon" is not a duration/],
    [['--namespace', 'Bad_NS'], /--namespace: "Bad_NS" is not a valid namespace name/],
  ];
  for (const [extra, re] of cases) {
    const r = meshcd(...base, ...extra);
    t.is(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, re, extra.join(' '));
    t.false(r.stderr.includes('secret-token'), 'a token value is never echoed');
  }
});

test('agent writes the gRPC bootstrap before it has a certificate (CA unreachable), then keeps retrying', async (t) => {
  const dir = temp(t);
  writeFileSync(join(dir, 'root.pem'), '');
  const child = spawn(process.execPath, [BIN, 'agent', '--ca-address', '127.0.0.1:1', '--ca-root-cert', join(dir, 'root.pem'), '--namespace', 'shop', '--service-account', 'cart', '--output-dir', join(dir, 'out'), '--xds-address', '127.0.0.1:15010', '--bootstrap-out', join(dir, 'bootstrap.json'), '--ip', '10.0.0.7', '--pod-name', 'cart-0', '--labels', 'app=cart,version=v1', '--metrics-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MESHCD_LOG_LEVEL: 'warn' } });
  t.teardown(() => void child.kill('SIGKILL'));
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no retry logged: ${err}`)), 45000);
    child.stderr.on('data', () => /retrying/.test(err) && (clearTimeout(timer), resolve()));
  });
  const b = JSON.parse(readFileSync(join(dir, 'bootstrap.json'), 'utf8')) as { node: { id: string; metadata: { LABELS: Record<string, string> } } };
  t.is(b.node.id, 'sidecar~10.0.0.7~cart-0.shop~shop.svc.cluster.local');
  t.deepEqual(b.node.metadata.LABELS, { app: 'cart', version: 'v1' });
  t.regex(err, /root\.pem: no PEM certificate in it|certificate request failed/);
  const metricsUrl = /metrics on (http:\/\/\S+)/.exec(err)![1]!;
  const metrics = await (await fetch(metricsUrl)).text();
  t.regex(metrics, /meshcd_agent_renewals_total\{identity="ns\/shop\/sa\/cart",result="error"\} [1-9]/);
  t.is((await fetch(metricsUrl.replace('/metrics', '/ready'))).status, 503, 'not ready without a certificate');
  child.kill('SIGTERM');
  t.is(await new Promise<number | null>((r) => child.once('exit', (c) => r(c))), 0);
});

function meshcdIn(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [join(process.cwd(), BIN), ...args], { cwd, encoding: 'utf8', timeout: 60_000, env: { ...process.env, MESHCD_LOG_LEVEL: 'warn' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('a missing token file is found before anything is created: ca serve --token-file and serve --ca-token-file exit 2 naming the flag and file, no root CA generated', (t) => {
  const dir = temp(t);
  const cases: [string, string[], RegExp][] = [
    ['ca serve', ['ca', 'serve', '--state-dir', join(dir, 'a'), '--port', '0', '--token-file', join(dir, 'nope.yaml')], /^error: --token-file: .*nope\.yaml: token file not found$/m],
    ['serve', ['serve', '--source', join(process.cwd(), 'examples/mesh'), '--state-dir', join(dir, 'b'), '--xds-port', '0', '--admin-port', '0', '--tls-port', '0', '--ca-token-file', join(dir, 'nope.yaml')], /^error: --ca-token-file: .*nope\.yaml: token file not found$/m],
    ['ca serve, plug-in folder', ['ca', 'serve', '--state-dir', join(dir, 'c'), '--port', '0', '--plugin-dir', join(dir, 'nocacerts')], /^error: CA in .*: .*nocacerts\/ca-cert\.pem: missing$/m],
  ];
  for (const [name, args, re] of cases) {
    const r = meshcd(...args);
    t.is(r.code, 2, `${name}: ${r.stderr}`);
    t.regex(r.stderr, re, name);
    t.notRegex(r.stderr, /\n\s+at /, 'no stack trace');
  }
  for (const s of ['a', 'b', 'c']) t.false(existsSync(join(dir, s, 'ca')), `${s}: no CA folder, no root generated`);
});

test('ca status and ca rotate default --state-dir to .meshcd, like serve', async (t) => {
  const dir = temp(t);
  const none = meshcdIn(dir, 'ca', 'status');
  t.is(none.code, 2);
  t.regex(none.stderr, /^error: CA in \.meshcd: .*no CA here yet/m);
  const ca = await CertificateAuthority.open({ stateDir: join(dir, '.meshcd') });
  await ca.close();
  const status = meshcdIn(dir, 'ca', 'status', '-o', 'json');
  t.is(status.code, 0, status.stderr);
  t.is((JSON.parse(status.stdout) as { rotation: { phase: string } }).rotation.phase, 'idle');
  const rotate = meshcdIn(dir, 'ca', 'rotate', '-o', 'json');
  t.is(rotate.code, 0, rotate.stderr);
  t.is((JSON.parse(rotate.stdout) as { roots: unknown[] }).roots.length, 1);
});
