// test/helpers/go-peers.ts: the cache key follows the sources, the cached
// binary is reused, and a missing Go toolchain is one clear message.

import test from 'ava';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { goPeer, goPeerHash, goPeersCacheDir, goTool } from '../helpers/go-peers.js';

test('the cache key is a hash of go.mod, go.sum and the peer\'s own .go files', (t) => {
  const a = goPeerHash('envoy-validate');
  const b = goPeerHash('grpc-go-client');
  t.regex(a, /^[0-9a-f]{16}$/);
  t.not(a, b, 'two peers, two keys');
  t.is(goPeerHash('envoy-validate'), a, 'stable while the sources are');
});

test('a built peer lives under its hash and is reused, not rebuilt', async (t) => {
  t.timeout(600_000, 'the first build on a cold machine');
  const bin = await goPeer('envoy-validate');
  t.is(bin, join(goPeersCacheDir(), goPeerHash('envoy-validate'), 'envoy-validate'));
  const before = statSync(bin).mtimeMs;
  t.is(await goPeer('envoy-validate'), bin);
  t.is(statSync(bin).mtimeMs, before);
});

test('without a Go toolchain the error says what is missing and how to point at one', (t) => {
  const saved = process.env.GO;
  process.env.GO = '/nonexistent/bin/go';
  try {
    const e = t.throws(() => goTool());
    t.regex(e!.message, /^the Go toolchain is needed to build the test peers in .*test\/interop \(tried \/nonexistent\/bin\/go\): install Go ≥ 1\.26 or set GO=/);
    t.false(e!.message.includes('\n'), 'one line');
  } finally {
    if (saved === undefined) delete process.env.GO;
    else process.env.GO = saved;
  }
});
