// The churn writer, as its own process so that the bench process's CPU time
// is meshcd's alone: replaces one endpoint (a pod going and a new one coming)
// in CHANGES EndpointSlices, evenly over WINDOW_MS, and prints one JSON line
// {writes, failed, firstAt, lastAt, changed: {service: lastIp}}.
//
//   node writer.js <server> <token> <ca.pem> <services> <namespaces> <changing namespaces> <changes> <window ms>

import { readFileSync } from 'node:fs';
import { request } from 'node:https';

const [server, token, caFile, services, namespaces, changingNs, changes, windowMs] = process.argv.slice(2);
const ca = readFileSync(caFile!, 'utf8');
const SERVICES = Number(services);
const NAMESPACES = Number(namespaces);
const CHANGING = Number(changingNs);
const CHANGES = Number(changes);
const WINDOW = Number(windowMs);

function call(method: string, path: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${server}${path}`, { method, ca, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/merge-patch+json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

// Services in the first CHANGING namespaces only: proxies elsewhere must see nothing.
const candidates = Array.from({ length: SERVICES }, (_, i) => i).filter((i) => i % NAMESPACES < CHANGING);
const changed: Record<string, string> = {};
let failed = 0;
const firstAt = Date.now();
const pending: Promise<void>[] = [];
for (let k = 0; k < CHANGES; k++) {
  const due = firstAt + (k * WINDOW) / CHANGES;
  const wait = due - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const i = candidates[(k * 7919) % candidates.length]!;
  const ns = `ns${i % NAMESPACES}`;
  const a = 1 + (i % 250);
  const b = 1 + (Math.floor(i / 250) % 250);
  const ip = `10.${b}.${a}.${3 + (k % 250)}`;
  const slice = { endpoints: [{ addresses: [`10.${b}.${a}.1`], conditions: { ready: true } }, { addresses: [ip], conditions: { ready: true } }] };
  changed[`svc${i}.${ns}`] = ip;
  pending.push(call('PATCH', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/svc${i}`, slice).then((s) => void (s !== 200 && failed++), () => void failed++));
}
await Promise.all(pending);
process.stdout.write(`${JSON.stringify({ writes: CHANGES, failed, firstAt, lastAt: Date.now(), changed })}\n`);
