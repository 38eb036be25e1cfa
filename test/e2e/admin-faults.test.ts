// One request must never kill `meshcd serve` (issue 9 §2): malformed
// percent-encoding, absurd paths, huge headers and broken HTTP, sent raw over
// node:net to a real serve process, are each answered with a 4xx (or the
// connection is closed), and afterwards the process still answers /ready and
// serves xDS.

import test from 'ava';
import { connect } from 'node:net';
import { startServe } from '../helpers/xds-e2e.js';
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

test('malformed requests get a 4xx and serve keeps answering /ready and xDS', async (t) => {
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
