// `meshcd sources check` as a user runs it: the real binary, a real Git
// server with token auth on loopback, exit codes and messages.

import test from 'ava';
import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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
