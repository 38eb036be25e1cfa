// One request must never kill `meshcd serve` (issue 9 §2): malformed
// percent-encoding, absurd paths, huge headers and broken HTTP, sent raw over
// node:net to a real serve process, are each answered with a 4xx (or the
// connection is closed), and afterwards the process still answers /ready and
// serves xDS.
//
// Written after the fix; run on 2026-12-07 against 5fcbbf1 (the commit before
// the fastify admin server, this file and helpers copied in): the first test
// fails — "POST /hooks/%ff: got 0" — because serve died with "URIError: URI
// malformed" in AdminServer.match; the other two fail there for want of
// --admin-token-file and the fault handlers.

import test from 'ava';
import { connect } from 'node:net';
import { eventually, startServe, tempDir, writeFileIn } from '../helpers/xds-e2e.js';
import { AdsTestClient, grpcNode } from '../helpers/xds-client.js';

/** Sends `raw` and resolves with the status code of the first response line (0 when the server closed without one). */
export function rawHttp(base: string, raw: string | Buffer): Promise<number> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(port), hostname);
    let got = '';
    sock.setTimeout(10_000, () => {
      sock.destroy();
      reject(new Error('no answer within 10 s'));
    });
    sock.on('data', (d) => {
      got += d.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(got);
      if (m) {
        sock.destroy();
        resolve(Number(m[1]));
      }
    });
    sock.on('error', () => resolve(0));
    sock.on('close', () => resolve(/^HTTP\/1\.[01] (\d{3})/.exec(got) ? Number(/^HTTP\/1\.[01] (\d{3})/.exec(got)![1]) : 0));
    sock.write(raw);
  });
}

const req = (line: string, headers: string[] = [], body = '') => `${line}\r\nHost: 127.0.0.1\r\n${headers.map((h) => `${h}\r\n`).join('')}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;

// Serial: each test starts serve processes, and the machine is shared.
test.serial('malformed requests get a 4xx and serve keeps answering /ready and xDS', async (t) => {
  const s = await startServe('examples/mesh', ['--no-ca']);
  t.teardown(() => s.stop());
  const cases: [string, string | Buffer, (status: number) => boolean][] = [
    ['POST /hooks/%ff', req('POST /hooks/%ff HTTP/1.1', [], '{}'), (c) => c === 400],
    ['POST /hooks/%E0%A4%A', req('POST /hooks/%E0%A4%A HTTP/1.1', [], '{}'), (c) => c === 400],
    ['POST /api/v1/sources/%E0%A4%A/refresh', req('POST /api/v1/sources/%E0%A4%A/refresh HTTP/1.1'), (c) => c === 400],
    ['GET /%', req('GET /% HTTP/1.1'), (c) => c >= 400 && c < 500],
    ['GET /debug/config_dump?proxy=%ff', req('GET /debug/config_dump?proxy=%ff%zz HTTP/1.1'), (c) => c === 404],
    ['absurd path (20 KiB)', req(`GET /${'a/'.repeat(10_000)} HTTP/1.1`), (c) => c === 431 || c === 414 || c === 404],
    ['long parameter', req(`POST /hooks/${'x'.repeat(5000)} HTTP/1.1`), (c) => c >= 400 && c < 500],
    ['huge header', req('GET /ready HTTP/1.1', [`X-Big: ${'b'.repeat(64 * 1024)}`]), (c) => c === 431 || c === 0],
    ['broken request line', 'GARBAGE\r\n\r\n', (c) => c === 400 || c === 0],
    ['bad content-length', 'POST /hooks/x HTTP/1.1\r\nHost: a\r\nContent-Length: nope\r\n\r\n', (c) => c === 400 || c === 0],
    ['body too large', req('POST /hooks/examples', [], 'x'.repeat(2 * 1024 * 1024)), (c) => c === 413 || c === 0],
    ['binary garbage', Buffer.from([0, 1, 2, 255, 254, 13, 10, 13, 10]), (c) => c === 400 || c === 0],
  ];
  for (const [name, raw, ok] of cases) {
    const status = await rawHttp(s.admin, raw);
    t.true(ok(status), `${name}: got ${status}`);
  }
  t.is(s.child.exitCode, null, s.stderr());
  t.is((await fetch(`${s.admin}/ready`)).status, 200);
  const ads = new AdsTestClient(s.xds, grpcNode('sidecar~127.0.0.1~client.bookinfo~bookinfo.svc.cluster.local', 'bookinfo'));
  t.teardown(() => ads.close());
  ads.request('type.googleapis.com/envoy.config.listener.v3.Listener');
  const lds = await ads.next('type.googleapis.com/envoy.config.listener.v3.Listener', 10_000);
  t.true(lds.names.length > 0);
  t.notRegex(s.stderr(), /TypeError|URIError|\n\s+at /);
});

test.serial('an unhandled rejection and an uncaught exception in serve are logged, counted and survived', async (t) => {
  const { dir, remove } = await tempDir('meshcd-e2e-faults-');
  t.teardown(remove);
  // A component failing outside any try, on demand: SIGUSR2 makes the serve process reject a promise nobody awaits and throw from a timer.
  await writeFileIn(dir, 'fault.mjs', "process.on('SIGUSR2', () => { Promise.reject(new Error('component failed, token=hunter2hunter2')); setTimeout(() => { throw new Error('timer threw'); }, 0); });\n");
  await writeFileIn(dir, 'admin-token', 'a-long-admin-token-0123456789\n');
  const before = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${before ?? ''} --import ${dir}/fault.mjs`.trim();
  const s = await startServe('examples/mesh', ['--no-ca', '--admin-token-file', `${dir}/admin-token`]).finally(() => {
    if (before === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = before;
  });
  t.teardown(() => s.stop());
  s.child.kill('SIGUSR2');
  const metrics = await eventually(async () => {
    const m = await (await fetch(`${s.admin}/metrics`)).text();
    if (!/meshcd_process_faults_total\{kind="uncaught_exception"\} 1/.test(m) || !/meshcd_process_faults_total\{kind="unhandled_rejection"\} 1/.test(m)) throw new Error('faults not counted yet');
    // The count is kept before the log line has come through the pipe: wait for both lines too (the assertions below check them).
    if (s.stderr().split('\n').filter((l) => l.includes('serving continues')).length < 2) throw new Error('fault log lines not read yet');
    return m;
  }, 20_000);
  t.regex(metrics, /meshcd_process_faults_total/);
  t.is(s.child.exitCode, null);
  t.is((await fetch(`${s.admin}/ready`)).status, 200);
  const lines = s.stderr().split('\n').filter((l) => l.includes('serving continues'));
  t.is(lines.length, 2, s.stderr());
  t.notRegex(s.stderr(), /hunter2hunter2/);
  t.regex(lines.join('\n'), /"kind":"unhandled_rejection".*component failed/);
  t.notRegex(s.stdout() + s.stderr(), /a-long-admin-token/);
});

test.serial('serve --admin-token-file/--admin-token-env: unreadable, empty or short tokens exit 2 with one line that never shows the token', async (t) => {
  const { execFile } = await import('node:child_process');
  const { dir, remove } = await tempDir('meshcd-e2e-token-');
  t.teardown(remove);
  await writeFileIn(dir, 'short', 'abc123\n');
  // Not spawnSync: a blocked event loop would starve the other tests' serve processes.
  const run = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ status: number; stderr: string }>((resolve) =>
      execFile(process.execPath, ['dist/src/cli/bin.js', 'serve', '--no-ca', '--xds-port', '0', '--admin-port', '0', '--state-dir', `${dir}/state`, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } }, (err, _out, stderr) => resolve({ status: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stderr })),
    );
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['--admin-token-file', `${dir}/nope`], {}, /^error: --admin-token-file \S+nope: cannot read it \(ENOENT\)\n$/],
    [['--admin-token-file', `${dir}/short`], {}, /^error: --admin-token-file \S+short: the token must be at least 16 characters/],
    [['--admin-token-env', 'MESHCD_TEST_NO_SUCH_VAR'], {}, /^error: --admin-token-env MESHCD_TEST_NO_SUCH_VAR: the variable is not set or empty\n$/],
    [['--admin-token-env', 'T', '--admin-token-file', `${dir}/short`], { T: 'x'.repeat(20) }, /give one of them/],
  ];
  for (const [args, env, re] of cases) {
    const r = await run(args, env);
    t.is(r.status, 2, r.stderr);
    t.regex(r.stderr, re);
    t.notRegex(r.stderr, /abc123|xxxxxxxxxxxxxxxxxxxx/);
  }
});
