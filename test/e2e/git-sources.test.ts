// Signed commits, several sources with namespace limits, and a watched folder,
// driven through the Reconciler against a real Git server on loopback.

import test from 'ava';
import * as fs from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import git from 'isomorphic-git';
import * as openpgp from 'openpgp';
import { Reconciler, type AcceptedEvent, type RejectedEvent } from '../../src/source/reconcile.js';
import { parseSourceFlag, parseSourcesConfig } from '../../src/source/spec.js';
import { GIT_ENV, startGitServer } from '../helpers/git-server.js';
import { makeRepo, serviceYaml, tempDir, type TestRepo } from '../helpers/git-repo.js';
import { execFileSync } from 'node:child_process';
import { nextEvent } from '../helpers/git-wait.js';

async function newKey(name: string) {
  const { privateKey, publicKey } = await openpgp.generateKey({ userIDs: [{ name, email: `${name}@example.com` }], format: 'armored' });
  const key = await openpgp.readPrivateKey({ armoredKey: privateKey });
  return { privateKey, publicKey, keyId: key.getKeyID().toHex().toUpperCase() };
}

/** Commits the work tree with isomorphic-git, signing with openpgp (as `git commit -S` would with gpg). */
async function signedCommit(repo: TestRepo, files: Record<string, string>, privateKey: string): Promise<string> {
  for (const [p, c] of Object.entries(files)) await writeFile(join(repo.work, p), c);
  await repo.git('add', '-A');
  return git.commit({
    fs,
    dir: repo.work,
    message: 'signed change\n',
    author: { name: 'Signer', email: 'signer@example.com', timestamp: 1767225600, timezoneOffset: 0 },
    signingKey: privateKey,
    onSign: async ({ payload, secretKey }) => {
      const signingKeys = await openpgp.readPrivateKey({ armoredKey: secretKey });
      const message = await openpgp.createMessage({ binary: new TextEncoder().encode(payload) });
      const signature = await openpgp.sign({ message, signingKeys, detached: true, format: 'armored' });
      return { signature: signature as string };
    },
  });
}

test('signed commits: trusted signature accepted, unsigned and unknown-key commits rejected with the commit and key id', async (t) => {
  const root = await tempDir();
  const server = await startGitServer({ root });
  const trusted = await newKey('trusted');
  const stranger = await newKey('stranger');
  const keysFile = join(root, 'keys.asc');
  await writeFile(keysFile, trusted.publicKey);
  const repo = await makeRepo(root, 'signed');
  const c1 = await signedCommit(repo, { 'a.yaml': serviceYaml('a') }, trusted.privateKey);
  await repo.push();
  const rec = new Reconciler({ sources: [parseSourceFlag(`mesh=${server.url('signed.git')};poll=100ms;verify-pgp=${keysFile}`, 'test')], stateDir: join(root, 'state') });
  t.teardown(async () => {
    await rec.stop();
    await server.close();
    await rm(root, { recursive: true, force: true });
  });
  await rec.start();
  t.is(rec.desired()?.revisions[0]!.commit, c1);

  const c2 = await repo.commit({ 'b.yaml': serviceYaml('b') }, 'unsigned');
  let rejected = nextEvent<RejectedEvent>(rec, 'rejected', (e) => e.revision.endsWith(c2));
  await repo.push();
  const r2 = await rejected;
  const d2 = r2.diagnostics.find((d) => d.code === 'MCD3003');
  t.truthy(d2);
  t.true(d2!.message.includes(`commit ${c2} is not signed`));

  const c3 = await signedCommit(repo, { 'c.yaml': serviceYaml('c') }, stranger.privateKey);
  rejected = nextEvent<RejectedEvent>(rec, 'rejected', (e) => e.revision.endsWith(c3));
  await repo.push();
  const d3 = (await rejected).diagnostics.find((d) => d.code === 'MCD3004');
  t.truthy(d3);
  t.true(d3!.message.includes(stranger.keyId), d3!.message);
  t.is(rec.desired()?.revisions[0]!.commit, c1, 'the last trusted revision keeps serving');

  const c4 = await signedCommit(repo, { 'd.yaml': serviceYaml('d') }, trusted.privateKey);
  const accepted = nextEvent<AcceptedEvent>(rec, 'accepted', (e) => e.revisions[0]!.commit === c4);
  await repo.push();
  t.truthy((await accepted).config.get('ServiceEntry', 'default', 'c'), 'content of the signed head, including earlier commits');
});

test('two sources merge into one ConfigSet; namespace limits and duplicates are errors naming both sources', async (t) => {
  const root = await tempDir();
  const server = await startGitServer({ root });
  const platformDir = join(root, 'platform');
  await mkdir(platformDir);
  await writeFile(join(platformDir, 'shared.yaml'), serviceYaml('shared', 'istio-system'));
  const team = await makeRepo(root, 'team');
  await team.commit({ 'mesh/svc.yaml': serviceYaml('svc', 'team-a') });
  await team.push();
  const configFile = join(root, 'meshcd.yaml');
  await writeFile(configFile, `sources:
  - name: platform
    dir: ./platform
  - name: team-a
    git: ${server.url('team.git')}
    ref: main
    path: mesh
    namespaces: [team-a]
    pollInterval: 100ms
`);
  const specs = parseSourcesConfig(fs.readFileSync(configFile, 'utf8'), configFile);
  const rec = new Reconciler({ sources: specs, stateDir: join(root, 'state') });
  t.teardown(async () => {
    await rec.stop();
    await server.close();
    await rm(root, { recursive: true, force: true });
  });
  await rec.start();
  const first = rec.desired()!;
  t.deepEqual(first.revisions.map((r) => r.source), ['platform', 'team-a']);
  t.truthy(first.config.get('ServiceEntry', 'istio-system', 'shared'));
  t.is(first.config.get('ServiceEntry', 'team-a', 'svc')?.origin.source, 'team-a');

  // Outside its namespaces.
  const c2 = await team.commit({ 'mesh/other.yaml': serviceYaml('x', 'team-b') });
  let rejected = nextEvent<RejectedEvent>(rec, 'rejected', (e) => e.revision.endsWith(c2));
  await team.push();
  const d = (await rejected).diagnostics.find((x) => x.code === 'MCD3001');
  t.regex(d!.message, /ServiceEntry\/team-b\/x is in namespace "team-b", outside the namespaces of source "team-a" \(team-a\)/);
  t.deepEqual(d!.origin, { file: 'other.yaml', line: 1, source: 'team-a' });

  // The same resource in both sources: rejected; fixing it in the team repo is accepted.
  await writeFile(join(platformDir, 'dup.yaml'), serviceYaml('svc', 'team-a'));
  rejected = nextEvent<RejectedEvent>(rec, 'rejected', (e) => e.source === 'platform');
  const dup = (await rejected).diagnostics.find((x) => x.code === 'MCD3002');
  t.regex(dup!.message, /ServiceEntry\/team-a\/svc is defined by two sources: "team-a" at team-a:svc.yaml:1 and "platform" at platform:dup.yaml:1|"platform" at platform:dup.yaml:1 and "team-a" at team-a:svc.yaml:1/);

  // Folder fixed (renamed): accepted through the watcher; the team's bad revision is still out.
  const fixed = nextEvent<AcceptedEvent>(rec, 'accepted', (e) => e.config.get('ServiceEntry', 'team-a', 'svc2') !== undefined);
  await writeFile(join(platformDir, 'dup.yaml'), serviceYaml('svc2', 'team-a'));
  t.falsy((await fixed).config.get('ServiceEntry', 'team-b', 'x'));
  const c3 = await team.commit({ 'mesh/other.yaml': serviceYaml('x', 'team-a') });
  const ok = nextEvent<AcceptedEvent>(rec, 'accepted', (e) => e.revisions[1]!.commit === c3);
  await team.push();
  t.truthy((await ok).config.get('ServiceEntry', 'team-a', 'x'));
});

test('a watched folder: edits become a new dir@sha256 revision', async (t) => {
  const root = await tempDir();
  await writeFile(join(root, 'a.yaml'), serviceYaml('a'));
  const rec = new Reconciler({ sources: [parseSourceFlag(`local=${root}`, 'test')], stateDir: join(root, '.state') });
  t.teardown(async () => {
    await rec.stop();
    await rm(root, { recursive: true, force: true });
  });
  await rec.start();
  const before = rec.desired()!.revisions[0]!.id;
  t.regex(before, /^dir@sha256:[0-9a-f]{64}$/);
  const next = nextEvent<AcceptedEvent>(rec, 'accepted', (e) => e.config.get('ServiceEntry', 'default', 'c') !== undefined);
  await writeFile(join(root, 'b.yaml'), serviceYaml('b'));
  await writeFile(join(root, 'c.yaml'), serviceYaml('c'));
  const e = await next;
  t.truthy(e.config.get('ServiceEntry', 'default', 'b'));
  t.not(e.revisions[0]!.id, before);
});


// Interop with what users actually run: `git commit -S` with GnuPG. Skipped
// where gpg is not installed (CI installs only git); the openpgp test above
// covers the same path everywhere.
// gpg is installed by .ci/run (Debian's gnupg).
test('a commit signed by the git CLI with GnuPG verifies; its key id is named when untrusted', async (t) => {
  const root = await tempDir();
  const gnupg = join(root, 'gnupg');
  await mkdir(gnupg, { mode: 0o700 });
  const env = { ...process.env, GNUPGHOME: gnupg };
  const gpg = (...args: string[]) => execFileSync('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { env, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const server = await startGitServer({ root });
  t.teardown(async () => {
    try {
      execFileSync('gpgconf', ['--kill', 'all'], { env, stdio: 'ignore' });
    } catch {
      /* no agent running */
    }
    await server.close();
    await rm(root, { recursive: true, force: true });
  });
  gpg('--quick-gen-key', 'Git Signer <git-signer@example.com>', 'ed25519', 'sign', '0');
  const keyId = /^sec:[^:]*:[^:]*:[^:]*:([0-9A-F]{16}):/m.exec(gpg('--with-colons', '--list-secret-keys'))![1]!;
  const repo = await makeRepo(root, 'gpg');
  await writeFile(join(repo.work, 'a.yaml'), serviceYaml('a'));
  await repo.git('add', '-A');
  execFileSync('git', ['-c', 'gpg.program=gpg', '-c', `user.signingkey=${keyId}`, 'commit', '-q', '-S', '-m', 'signed with gpg'], { cwd: repo.work, env: { ...env, ...GIT_ENV, HOME: repo.work }, stdio: 'ignore' });
  const c1 = await repo.head();
  await repo.push();
  const trustedFile = join(root, 'trusted.asc');
  await writeFile(trustedFile, gpg('--armor', '--export', keyId));
  const good = new Reconciler({ sources: [parseSourceFlag(`mesh=${server.url('gpg.git')};poll=1h;verify-pgp=${trustedFile}`, 'test')], stateDir: join(root, 's1') });
  t.teardown(() => good.stop());
  await good.start();
  t.is(good.desired()?.revisions[0]!.commit, c1);

  const other = await newKey('other');
  const otherFile = join(root, 'other.asc');
  await writeFile(otherFile, other.publicKey);
  const bad = new Reconciler({ sources: [parseSourceFlag(`mesh=${server.url('gpg.git')};poll=1h;verify-pgp=${otherFile}`, 'test')], stateDir: join(root, 's2') });
  t.teardown(() => bad.stop());
  const rejected = nextEvent<RejectedEvent>(bad, 'rejected');
  await bad.start();
  const d = (await rejected).diagnostics.find((x) => x.code === 'MCD3004');
  t.true(d!.message.includes(keyId), d!.message);
  t.false(bad.hasAccepted());
});
