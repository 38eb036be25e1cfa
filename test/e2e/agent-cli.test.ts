// `meshcd agent` as users run it (the built CLI in a child process): inputs it
// cannot do without fail at once with exit 2, the bootstrap's file-watcher
// refresh fits the certificate lifetime, and a real CA on 127.0.0.1 is dialled
// without Node's DEP0123 warning.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority } from '../../src/ca/authority.js';
import { TokenFileAuthenticator } from '../../src/ca/auth.js';
import { defaultAuth, startCaServer } from '../../src/ca/service.js';

const BIN = join(process.cwd(), 'dist/src/cli/bin.js');
const TOKEN = 'agent-cli-token-0123456789';

function meshcd(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, MESHCD_LOG_LEVEL: 'warn' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function temp(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshcd-agent-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function agentArgs(dir: string, extra: string[] = []): string[] {
  return ['agent', '--ca-address', '127.0.0.1:1', '--ca-root-cert', join(dir, 'root.pem'), '--namespace', 'shop', '--service-account', 'cart', '--output-dir', join(dir, 'out'), ...extra];
}

test('a missing token file or root certificate file: exit 2 at once, one line naming the flag and the path, nothing written', (t) => {
  const dir = temp(t);
  writeFileSync(join(dir, 'root.pem'), '');
  writeFileSync(join(dir, 'token'), TOKEN);
  const bootstrap = ['--xds-address', '127.0.0.1:15010', '--bootstrap-out', join(dir, 'bootstrap.json')];
  const cases: [string, string[], RegExp][] = [
    ['missing token', agentArgs(dir, ['--token-file', join(dir, 'nope.token'), ...bootstrap]), /^error: --token-file: .*nope\.token: no such file$/m],
    ['token is a folder', agentArgs(dir, ['--token-file', dir, ...bootstrap]), /^error: --token-file: .*: is a folder$/m],
    ['missing root', agentArgs(dir, ['--ca-root-cert', join(dir, 'nope.pem'), '--token-file', join(dir, 'token'), ...bootstrap]), /^error: --ca-root-cert: .*nope\.pem: no such file$/m],
  ];
  for (const [name, args, re] of cases) {
    const r = meshcd(...args);
    t.is(r.code, 2, `${name}: ${r.stderr}`);
    t.regex(r.stderr, re, name);
    t.is(r.stderr.trim().split('\n').length, 1, `${name}: one line`);
    t.notRegex(r.stderr, /retrying/, name);
  }
  t.false(existsSync(join(dir, 'bootstrap.json')), 'no bootstrap written');
  t.false(existsSync(join(dir, 'out')), 'no output folder');
});

test("the bootstrap's file-watcher refresh follows --ttl (gRPC must never hold an expired certificate); a too long one is exit 2", async (t) => {
  const dir = temp(t);
  writeFileSync(join(dir, 'root.pem'), '');
  const refreshOf = async (extra: string[]) => {
    const out = join(dir, `b-${extra.join('')}.json`);
    const child = spawn(process.execPath, [BIN, ...agentArgs(dir, ['--xds-address', '127.0.0.1:15010', '--bootstrap-out', out, ...extra])], { stdio: 'ignore' });
    t.teardown(() => void child.kill('SIGKILL'));
    const deadline = Date.now() + 45_000;
    while (!existsSync(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGTERM');
    const b = JSON.parse(readFileSync(out, 'utf8')) as { certificate_providers: { default: { config: { refresh_interval: string } } } };
    return b.certificate_providers.default.config.refresh_interval;
  };
  t.is(await refreshOf(['--ttl', '4s']), '1s', '4 s certificates renewed at 2 s: re-read every second');
  t.is(await refreshOf(['--ttl', '10m']), '60s');
  t.is(await refreshOf([]), '60s', 'the CA default (24 h)');
  t.is(await refreshOf(['--ttl', '4s', '--cert-refresh-interval', '1s']), '1s');
  const tooLong = meshcd(...agentArgs(dir, ['--ttl', '30s', '--cert-refresh-interval', '60s']));
  t.is(tooLong.code, 2);
  t.regex(tooLong.stderr, /^error: --cert-refresh-interval: 60s is too long for --ttl 30s: .* use at most 7s$/m);
});

test('against a real CA on 127.0.0.1: certificate written, and no DEP0123 (TLS ServerName set to an IP address)', async (t) => {
  const dir = temp(t);
  writeFileSync(join(dir, 'tokens.yaml'), `tokens:\n  - token: ${TOKEN}\n    namespace: shop\n    serviceAccount: cart\n`);
  writeFileSync(join(dir, 'token'), TOKEN, { mode: 0o600 });
  const ca = await CertificateAuthority.open({ stateDir: join(dir, 'state') });
  const tokens = await TokenFileAuthenticator.load(join(dir, 'tokens.yaml'));
  const server = await startCaServer({ port: 0, ca, auth: defaultAuth(ca, [tokens]) });
  t.teardown(async () => {
    await server.close();
    await ca.close();
  });
  writeFileSync(join(dir, 'root.pem'), ca.trustBundle().rootsPem.join(''));
  const args = agentArgs(dir, ['--token-file', join(dir, 'token')]);
  args[2] = `127.0.0.1:${server.port}`;
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MESHCD_LOG_LEVEL: 'info' } });
  t.teardown(() => void child.kill('SIGKILL'));
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no certificate: ${err}`)), 45000);
    child.stderr.on('data', () => /workload certificate renewed/.test(err) && (clearTimeout(timer), resolve()));
  });
  t.true(existsSync(join(dir, 'out', 'cert-chain.pem')));
  child.kill('SIGTERM');
  t.is(await new Promise<number | null>((r) => child.once('exit', (c) => r(c))), 0);
  t.notRegex(err, /DEP0123|DeprecationWarning/);
});
