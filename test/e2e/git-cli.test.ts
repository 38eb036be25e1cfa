// `meshcd sources check` as a user runs it: the real binary, a real Git
// server with token auth on loopback, exit codes and messages.

import test from 'ava';
import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AdminServer } from '../../src/admin/server.js';
import { Reconciler } from '../../src/source/reconcile.js';
import { parseSourceFlag } from '../../src/source/spec.js';
import { startGitServer } from '../helpers/git-server.js';
import { makeRepo, serviceYaml, tempDir } from '../helpers/git-repo.js';

const BIN = join(process.cwd(), 'dist/src/cli/bin.js');

function meshcd(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, MESHCD_LOG_LEVEL: 'silent', ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('sources check: accepted (0), invalid (1), bad credentials or spec (2), secrets never printed', async (t) => {
  const root = await tempDir();
  const token = 'tok-9f8e7d6c5b4a';
  const server = await startGitServer({ root, auth: { token } });
  t.teardown(async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
  });
  const repo = await makeRepo(root, 'cfg');
  const c1 = await repo.commit({ 'mesh/a.yaml': serviceYaml('a'), 'other/ignored.yaml': 'not: [valid' });
  await repo.push();
  const url = server.url('cfg.git');

  const ok = await meshcd(['sources', 'check', '--source', `cfg=${url}#main:mesh;token-env=CFG_TOKEN`], { CFG_TOKEN: token });
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, new RegExp(`cfg  git  ${url.replace(/\./g, '\\.')}:mesh  main@sha1:${c1}`));
  t.regex(ok.stdout, /accepted: 1 resources/);

  const json = await meshcd(['sources', 'check', '-o', 'json', '--source', `${url}`, '--path', 'mesh', '--token-env', 'CFG_TOKEN'], { CFG_TOKEN: token });
  t.is(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as { accepted: boolean; sources: { name: string; revision: string }[] };
  t.true(parsed.accepted);
  t.is(parsed.sources[0]!.name, 'cfg');

  const wrong = await meshcd(['sources', 'check', '--source', `${url}`, '--token-env', 'CFG_TOKEN'], { CFG_TOKEN: 'wrong-token-abc' });
  t.is(wrong.code, 2);
  t.regex(wrong.stderr, /^error: cfg \(http:\/\/127\.0\.0\.1:\d+\/cfg\.git\): authentication failed \(HTTP 401\) \(token from environment variable CFG_TOKEN\)\n$/);
  t.false((wrong.stdout + wrong.stderr).includes('wrong-token-abc'));

  const inUrl = await meshcd(['sources', 'check', '--source', url.replace('http://', `http://u:${token}@`)]);
  t.is(inUrl.code, 2);
  t.regex(inUrl.stderr, /credentials in the URL are not accepted/);
  t.false(inUrl.stderr.includes(token));

  const c2 = await repo.commit({ 'mesh/bad.yaml': 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: bad\nspec:\n  resolution: BOGUS\n' });
  await repo.push();
  const invalid = await meshcd(['sources', 'check', '--source', `cfg=${url}#main:mesh;token-env=CFG_TOKEN`], { CFG_TOKEN: token });
  t.is(invalid.code, 1);
  t.regex(invalid.stdout, new RegExp(`main@sha1:${c2}`));
  t.regex(invalid.stdout, /cfg:bad\.yaml:6  ERROR  MCD0103/);
  t.regex(invalid.stdout, /not accepted/);

  const badYaml = join(root, 'meshcd.yaml');
  await writeFile(badYaml, 'sources:\n  - name: x\n    git: https://h/x.git\n    pollInterval: soon\n');
  const spec = await meshcd(['sources', 'check', '--config', badYaml]);
  t.is(spec.code, 2);
  t.regex(spec.stderr, /meshcd\.yaml:4: "soon" is not a duration/);
});

test('sources check validates exactly as serve and validate do: baseline policies, --policies, --no-default-policies', async (t) => {
  const validate = await meshcd(['validate', 'examples/invalid', '-o', 'json']);
  const want = (JSON.parse(validate.stdout) as { summary: { errors: number } }).summary.errors;
  const check = await meshcd(['sources', 'check', '-s', 'examples/invalid', '-o', 'json']);
  t.is(check.code, 1, check.stderr);
  const got = JSON.parse(check.stdout) as { accepted: boolean; diagnostics: { code: string; severity: string }[] };
  t.is(got.diagnostics.filter((d) => d.severity === 'error').length, want);
  t.true(got.diagnostics.some((d) => d.code === 'POL-production-dr-tls'), 'the baseline policies apply');
  const without = await meshcd(['sources', 'check', '-s', 'examples/invalid', '-o', 'json', '--no-default-policies']);
  t.false((JSON.parse(without.stdout) as typeof got).diagnostics.some((d) => d.code.startsWith('POL-')));

  // A folder only a baseline policy rejects: serve would reject it, so check must too.
  const root = await tempDir();
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await writeFile(join(root, 'authz.yaml'), 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: allow-all, namespace: default}\nspec:\n  action: ALLOW\n  rules:\n  - {}\n');
  const policyOnly = await meshcd(['sources', 'check', '-s', root]);
  t.is(policyOnly.code, 1, policyOnly.stdout);
  t.regex(policyOnly.stdout, /POL-authz-allow-empty-rule/);
  t.is((await meshcd(['sources', 'check', '-s', root, '--no-default-policies'])).code, 0);
  const badPolicies = await meshcd(['sources', 'check', '-s', root, '--policies', join(root, 'nope')]);
  t.is(badPolicies.code, 2);
  t.regex(badPolicies.stderr, /^error: --policies /);
});

test('sources list and sources refresh against a running serve: exit 0 ready, 1 rejected, 2 unknown source or no server', async (t) => {
  const root = await tempDir();
  const server = await startGitServer({ root });
  const admin = new AdminServer();
  // refresh makes serve fetch: it needs the admin token, read from the file MESHCD_TOKEN_FILE (or --token-file) names.
  const adminToken = 'sources-cli-admin-token-0123456789';
  admin.setAdminToken(adminToken);
  await writeFile(join(root, 'admin.token'), `${adminToken}\n`, { mode: 0o600 });
  const withToken = { MESHCD_TOKEN_FILE: join(root, 'admin.token') };
  const port = await admin.listen(0);
  const repo = await makeRepo(root, 'cfg');
  const c1 = await repo.commit({ 'a.yaml': serviceYaml('a') });
  await repo.push();
  const rec = new Reconciler({ sources: [parseSourceFlag(`cfg=${server.url('cfg.git')};poll=1h`, 'test')], stateDir: join(root, 'state') });
  rec.registerAdmin(admin);
  t.teardown(async () => {
    await rec.stop();
    await admin.close();
    await server.close();
    await rm(root, { recursive: true, force: true });
  });
  await rec.start();
  const at = ['--server', `http://127.0.0.1:${port}`];

  const list = await meshcd(['sources', 'list', ...at]);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, /^NAME +KIND +REVISION +READY +MESSAGE\n/);
  t.regex(list.stdout, new RegExp(`cfg +git +main@sha1:${c1} +True +fetched `));
  const asJson = await meshcd(['sources', 'list', ...at, '-o', 'json']);
  t.is((JSON.parse(asJson.stdout) as { sources: { revision: string }[] }).sources[0]!.revision, `main@sha1:${c1}`);

  const c2 = await repo.commit({ 'bad.yaml': 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: bad\nspec:\n  resolution: BOGUS\n' });
  await repo.push();
  const refused = await meshcd(['sources', 'refresh', 'cfg', ...at]);
  t.is(refused.code, 2);
  t.regex(refused.stderr, /^error: sources refresh cfg: missing bearer token .*\(give --token-file or set MESHCD_TOKEN_FILE\)\n$/);
  const wrong = await meshcd(['sources', 'refresh', 'cfg', ...at, '--token-file', join(root, 'nope.token')]);
  t.is(wrong.code, 2);
  t.regex(wrong.stderr, /^error: --token-file \S+nope\.token: cannot read it \(ENOENT\)\n$/);
  const refreshed = await meshcd(['sources', 'refresh', 'cfg', ...at], withToken);
  t.is(refreshed.code, 1, refreshed.stderr);
  t.regex(refreshed.stdout, new RegExp(`^cfg: rejected main@sha1:${c2}: bad\\.yaml:5 MCD0102 .*; still serving main@sha1:${c1}\\n$`));
  t.is((await meshcd(['sources', 'list', ...at])).code, 1);

  await repo.git('revert', '--no-edit', 'HEAD');
  await repo.push();
  const all = await meshcd(['sources', 'refresh', ...at, '--token-file', join(root, 'admin.token')]);
  t.is(all.code, 0, all.stdout);
  t.regex(all.stdout, new RegExp(`^cfg: ready, serving main@sha1:${await repo.head()}\\n$`));

  const unknown = await meshcd(['sources', 'refresh', 'nosuch', ...at], withToken);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /^error: source "nosuch": unknown to meshcd serve at http:\/\/127\.0\.0\.1:\d+\/\n$/);

  await admin.close();
  const gone = await meshcd(['sources', 'list', ...at]);
  t.is(gone.code, 2);
  t.regex(gone.stderr, /^error: --server http:\/\/127\.0\.0\.1:\d+\/: cannot reach meshcd serve's admin API \(ECONNREFUSED\)\n$/);
});
