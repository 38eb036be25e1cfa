import test from 'ava';
import { redact, safeUrl } from '../../../src/source/secret.js';
import { parseSourceFlag, parseSourcesConfig, resolveSourceSpecs, SpecError, parseDuration } from '../../../src/source/spec.js';

test('--source forms: folder, git URL with #ref:path, name= and ;options', (t) => {
  const dir = parseSourceFlag('./mesh', '--source #1', {}, '/work');
  t.like(dir, { name: 'mesh', kind: 'dir', dir: '/work/mesh', ref: 'dir', path: '', pollIntervalMs: 30_000 });
  const g = parseSourceFlag('platform=https://git.example.com/org/platform.git#release-1.2:mesh/prod;namespaces=a,b;poll=10s;token-env=GIT_TOKEN;webhook-secret-file=/run/hook', '--source #2');
  t.like(g, { name: 'platform', kind: 'git', url: 'https://git.example.com/org/platform.git', ref: 'release-1.2', path: 'mesh/prod', pollIntervalMs: 10_000 });
  t.deepEqual(g.namespaces, ['a', 'b']);
  t.deepEqual(g.auth, { token: { env: 'GIT_TOKEN' } });
  t.deepEqual(g.webhookSecret, { file: '/run/hook' });
  const plain = parseSourceFlag('https://git.example.com/org/Team-A.git', 'x');
  t.like(plain, { name: 'team-a', ref: 'main', path: '' });
  t.is(parseSourceFlag('https://h/r.git#:sub', 'x').path, 'sub');
  t.is(parseSourceFlag(`https://h/r.git#${'a'.repeat(40)}`, 'x').ref, 'a'.repeat(40));
});

test('--source errors name the flag and refuse credentials in URLs', (t) => {
  const cases: [string, RegExp][] = [
    ['https://user:hunter2@git.example.com/r.git', /--source #1 \(git\): credentials in the URL are not accepted \(https:\/\/git\.example\.com\/r\.git\)/],
    ['https://h/r.git;tokenfile=x', /unknown option "tokenfile"/],
    ['https://h/r.git;poll=fast', /"fast" is not a duration/],
    ['https://h/r.git#bad..ref', /not a valid branch, tag or commit/],
    ['https://h/r.git#main:../up', /may not contain \. or \.\. segments/],
    ['x=ftp://h/r.git', /only http\(s\) Git URLs are supported, got ftp:/],
    ['git@github.com:org/repo.git', /SSH Git URLs are not supported/],
    ['https://h/r.git;password-file=/p', /a password needs a username/],
    ['./d;verify-pgp=k.asc', /only git sources have signed commits/],
  ];
  for (const [value, re] of cases) {
    const err = t.throws(() => parseSourceFlag(value, '--source #1', {}, '/w'), { instanceOf: SpecError }, value);
    t.regex(err!.message, re, value);
    t.false(err!.message.includes('hunter2'));
  }
});

test('meshcd.yaml: sources with auth, webhook and verify; errors carry file:line', (t) => {
  const specs = parseSourcesConfig(`sources:
  - name: platform
    git: https://git.example.com/platform.git
    ref: v1.2.0
    path: mesh
    pollInterval: 1m
    auth:
      username: bot
      passwordFile: secrets/pw
    webhook:
      secretEnv: HOOK_SECRET
    verify:
      pgp: keys.asc
  - dir: team-a
    namespaces: [team-a]
`, '/etc/meshcd/meshcd.yaml');
  t.like(specs[0], { name: 'platform', ref: 'v1.2.0', path: 'mesh', pollIntervalMs: 60_000, origin: '/etc/meshcd/meshcd.yaml:2' });
  t.deepEqual(specs[0]!.auth, { username: 'bot', password: { file: '/etc/meshcd/secrets/pw' } });
  t.deepEqual(specs[0]!.verify, { kind: 'pgp', keysFile: '/etc/meshcd/keys.asc' });
  t.deepEqual(specs[0]!.webhookSecret, { env: 'HOOK_SECRET' });
  t.like(specs[1], { name: 'team-a', kind: 'dir', dir: '/etc/meshcd/team-a' });

  const bad: [string, RegExp][] = [
    ['sources:\n  - name: a\n    git: https://h/a.git\n    auth:\n      token: abc\n', /m\.yaml:5: secrets are not written in the config; use tokenFile or tokenEnv/],
    ['sources:\n  - name: a\n    git: https://h/a.git\n    refs: main\n', /m\.yaml:4: unknown field "refs"/],
    ['sources:\n  - git: https://h/a.git\n  - git: https://h/a.git\n', /m\.yaml:3: source name "a" is also used at m\.yaml:2/],
    ['sources:\n  - name: a\n    dir: x\n    namespaces: team-a\n', /m\.yaml:4: must be a non-empty list/],
    ['sources: []\n', /m\.yaml:1: "sources" must be a non-empty list/],
    ['sources:\n  - name: a\n   git: x\n', /m\.yaml:\d+:/],
    ['source:\n  - dir: x\n', /m\.yaml:1: unknown field "source"/],
  ];
  for (const [text, re] of bad) {
    const err = t.throws(() => parseSourcesConfig(text, 'm.yaml'), { instanceOf: SpecError });
    t.regex(err!.message, re, text);
  }
});

test('flag defaults apply to sources without their own; no source is an error', (t) => {
  const specs = resolveSourceSpecs({ source: ['https://h/a.git', 'https://h/b.git#dev'], ref: 'prod', tokenFile: 'tok', pollInterval: '5s' }, '/w');
  t.is(specs[0]!.ref, 'prod');
  t.is(specs[1]!.ref, 'dev');
  t.deepEqual(specs[0]!.auth, { token: { file: '/w/tok' } });
  t.is(specs[1]!.pollIntervalMs, 5000);
  t.throws(() => resolveSourceSpecs({}), { message: /no source given/ });
  t.throws(() => resolveSourceSpecs({ source: ['https://h/a.git', 'https://other/a.git'] }), { message: /source name "a" is also used/ });
  t.throws(() => resolveSourceSpecs({ config: 'nope.yaml' }, '/nonexistent'), { message: /--config nope\.yaml: cannot read \(ENOENT\)/ });
  t.is(parseDuration('250ms', 'x'), 250);
  t.is(parseDuration(2, 'x'), 2000);
  t.throws(() => parseDuration('10ms', 'x'), { message: /too short/ });
});

test('a credential in the URL query string is refused like userinfo, naming the parameter, never the value', (t) => {
  for (const param of ['private_token', 'access_token', 'token', 'oauth_token', 'key', 'password', 'sig', 'X-Amz-Signature', 'X-Amz-Security-Token', 'job_token']) {
    const value = `s3cr3t-${param.length}-value`;
    const err = t.throws(() => parseSourceFlag(`https://git.example.com/r.git?${param}=${value}#main`, '--source #1', {}, '/w'), { instanceOf: SpecError }, param);
    t.regex(err!.message, new RegExp(`^--source #1 \\(git\\): a credential in the URL's query string is not accepted \\(parameter "${param}" in https://git\\.example\\.com/r\\.git\\?\\[redacted\\]\\)`), param);
    t.false(err!.message.includes(value), param);
  }
  const yaml = t.throws(() => parseSourcesConfig('sources:\n- name: m\n  git: https://h/r.git?private_token=glpat-abcdef\n', 'meshcd.yaml'), { instanceOf: SpecError });
  t.regex(yaml!.message, /^meshcd\.yaml:3: a credential in the URL's query string/);
  t.false(yaml!.message.includes('glpat-abcdef'));
  const flag = t.throws(() => resolveSourceSpecs({ source: ['https://h/r.git?access_token=abc123xyz'] }), { instanceOf: SpecError });
  t.regex(flag!.message, /^--source #1 "https:\/\/h\/r\.git\?\[redacted\]" \(git\): a credential/);
  t.false(flag!.message.includes('abc123xyz'));
});

test('redact and safeUrl remove query strings and userinfo from URLs in any text', (t) => {
  t.is(safeUrl('https://u:p@h.example/r.git?ref_hint=abc123'), 'https://h.example/r.git?[redacted]');
  t.is(safeUrl('https://h.example/r.git'), 'https://h.example/r.git');
  t.is(redact('GET https://h.example/r.git/info/refs?service=git-upload-pack&x=1 failed; see http://a:b@h/x'), 'GET https://h.example/r.git/info/refs?[redacted] failed; see http://h/x');
});
