// Issue 9 §3, what a stall reset can free: grpc-js (the library meshcd's xDS
// server runs on) has no API to reset one HTTP/2 stream. Seen from a client
// that never reads, as a stalled proxy: ending the call (what meshcd's stall
// reset does) or destroying it sends nothing — the status waits behind the
// unread data and the stream stays open, holding what was written; closing
// the connection (the socket, which a server owns through grpc-js's public
// Server.createConnectionInjector()) ends it at once. docs/security.md says
// what that means for memory. When a grpc-js release changes this, this test
// says so.

import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import { createServer, type Socket } from 'node:net';

const method = { path: '/t.Stall/Chat', requestStream: true, responseStream: true, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b };

async function stalled(how: 'end' | 'destroy' | 'socket'): Promise<{ closedWithin1s: boolean; rstCode: number | undefined }> {
  const server = new grpc.Server();
  let call: grpc.ServerDuplexStream<Buffer, Buffer> | undefined;
  server.addService({ Chat: method } as unknown as grpc.ServiceDefinition, {
    Chat: (c: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call = c;
      for (let i = 0; i < 16; i++) c.write(Buffer.alloc(1 << 20, i));
    },
  });
  const sockets: Socket[] = [];
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const listener = createServer((s) => {
    sockets.push(s);
    injector.injectConnection(s);
  });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const client = http2.connect(`http://127.0.0.1:${(listener.address() as { port: number }).port}`);
  try {
    const req = client.request({ ':method': 'POST', ':path': method.path, 'content-type': 'application/grpc', te: 'trailers' });
    req.pause(); // never reads: the windows fill up, as with a stalled proxy
    let closed = false;
    req.on('close', () => (closed = true));
    req.on('error', () => undefined);
    const frame = Buffer.alloc(8);
    frame.writeUInt32BE(3, 1);
    req.write(frame);
    for (let i = 0; i < 100 && !call; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    if (how === 'end') call!.emit('error', { code: grpc.status.UNAVAILABLE, details: 'stalled' });
    if (how === 'destroy') call!.destroy();
    if (how === 'socket') for (const s of sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 1000));
    return { closedWithin1s: closed, rstCode: closed ? req.rstCode : undefined };
  } finally {
    client.destroy();
    for (const s of sockets) s.destroy();
    listener.close();
    server.forceShutdown();
  }
}

test('ending or destroying a stalled grpc-js call leaves its HTTP/2 stream open; closing the connection ends it', async (t) => {
  t.false((await stalled('end')).closedWithin1s, 'call.emit("error") (a status) waits behind the unread data');
  t.false((await stalled('destroy')).closedWithin1s, 'call.destroy() does not touch the HTTP/2 stream');
  t.true((await stalled('socket')).closedWithin1s, 'destroying the socket ends the stream');
});
