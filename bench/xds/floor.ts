// The minimal ADS server of bench/xds/scale.ts: a floor to measure meshcd
// against. In its own process, it serves the bytes the bench's clients
// captured from meshcd for the same mesh (each proxy's last response per
// type, nonce stripped) — no translation, no caching, no encoding: on a
// request it writes the captured body plus a nonce field; on `push` it
// writes the captured post-change bodies to every stream whose body
// changed. Same TLS (client certificates required, checked against
// meshcd's roots) and the same clients, so the bench can print meshcd's own
// cost as a ratio.
//
// Driven over IPC: {cmd: 'start', dir, tls} → {port}; {cmd: 'push', tag} →
// {at, streams}; {cmd: 'stop'}.

import * as grpc from '@grpc/grpc-js';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { now } from './proc.js';
import type { CapturedResponse } from './clients.js';
import { nonceField, rawAdsServerDefinition } from './wire.js';

interface Start {
  cmd: 'start';
  dir: string;
  tls: { certPem: string; keyPem: string; clientRootsPem: string };
}

type Index = Record<string, Record<string, CapturedResponse>>;

async function loadIndex(dir: string, tag: string): Promise<Index> {
  const out: Index = {};
  for (const f of await readdir(dir)) if (f.startsWith(`index-${tag}-`)) Object.assign(out, JSON.parse(await readFile(join(dir, f), 'utf8')) as Index);
  return out;
}

const blobs = new Map<string, Buffer>();
async function blob(dir: string, h: string): Promise<Buffer> {
  let b = blobs.get(h);
  if (!b) {
    b = await readFile(join(dir, 'blobs', h));
    blobs.set(h, b);
  }
  return b;
}

interface Stream {
  id: string;
  call: grpc.ServerDuplexStream<Record<string, unknown>, Buffer>;
  sent: Map<string, { nonce: string; key: string; names: string }>;
}

const keyOf = (c: CapturedResponse) => `${c.head}|${c.resources}`;

let dir = '';
let before: Index = {};
const streams = new Set<Stream>();
let server: grpc.Server | undefined;
let nonces = 0;

function send(s: Stream, type: string, c: CapturedResponse, names: string): void {
  const nonce = (++nonces).toString(36);
  s.sent.set(type, { nonce, key: keyOf(c), names });
  s.call.write(Buffer.concat([Buffer.from(c.head, 'base64'), blobs.get(c.resources)!, nonceField(nonce)]));
}

function handleStream(call: grpc.ServerDuplexStream<Record<string, unknown>, Buffer>): void {
  let s: Stream | undefined;
  call.on('data', (req: { node?: { id?: string }; type_url?: string; response_nonce?: string; resource_names?: string[] }) => {
    if (!s) {
      const id = req.node?.id ?? '';
      s = { id, call, sent: new Map() };
      streams.add(s);
    }
    const type = req.type_url ?? '';
    const names = (req.resource_names ?? []).join('\n');
    const last = s.sent.get(type);
    // An ACK (the nonce we sent, same names) needs nothing; a first request or new names get the captured body.
    if (last && req.response_nonce === last.nonce && last.names === names) return;
    if (last && req.response_nonce && req.response_nonce !== last.nonce) return; // stale
    const c = before[s.id]?.[type];
    if (c) send(s, type, c, names);
  });
  const end = () => {
    if (s) streams.delete(s);
  };
  call.on('end', () => {
    end();
    call.end();
  });
  call.on('error', end);
  call.on('cancelled', end);
}

async function start(c: Start): Promise<number> {
  dir = c.dir;
  before = await loadIndex(dir, 'before');
  for (const e of Object.values(before)) for (const c of Object.values(e)) await blob(dir, c.resources);
  server = new grpc.Server({ 'grpc.max_send_message_length': -1, 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
  server.addService(rawAdsServerDefinition(), { StreamAggregatedResources: handleStream });
  const creds = grpc.ServerCredentials.createSsl(Buffer.from(c.tls.clientRootsPem), [{ cert_chain: Buffer.from(c.tls.certPem), private_key: Buffer.from(c.tls.keyPem) }], true);
  return new Promise((resolve, reject) => server!.bindAsync('127.0.0.1:0', creds, (err, port) => (err ? reject(err) : resolve(port))));
}

/** Writes every captured post-change body that differs from what the stream holds. */
async function push(tag: string): Promise<{ at: number; streams: number; responses: number }> {
  const after = await loadIndex(dir, tag);
  for (const e of Object.values(after)) for (const c of Object.values(e)) await blob(dir, c.resources);
  const at = now();
  let touched = 0;
  let responses = 0;
  for (const s of streams) {
    let any = false;
    for (const [type, c] of Object.entries(after[s.id] ?? {})) {
      const last = s.sent.get(type);
      if (!last || last.key === keyOf(c)) continue;
      send(s, type, c, last.names);
      any = true;
      responses++;
    }
    if (any) touched++;
  }
  return { at, streams: touched, responses };
}

process.on('message', (m: { seq: number; command: Start | { cmd: 'push'; tag: string } | { cmd: 'stop' } }) => {
  const c = m.command;
  const run = async (): Promise<unknown> => {
    if (c.cmd === 'start') return start(c);
    if (c.cmd === 'push') return push(c.tag);
    server?.forceShutdown();
    return true;
  };
  run().then(
    (ok) => process.send!({ seq: m.seq, ok }),
    (err: Error) => process.send!({ seq: m.seq, error: err.message }),
  );
});
process.on('disconnect', () => process.exit(0));
