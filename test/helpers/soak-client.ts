// A proxyless client as its own process (so a crash inside grpc-js cannot
// take the test worker and its `meshcd serve` child with it): dials TARGET
// through XDS, waits for the first answer, then calls for DURATION_MS and
// prints one JSON line {calls, errors, versions}. Exits non-zero on a crash.
//
//   node soak-client.js <target> <xds server> <node id> <duration ms>

import { callEcho, eventually, xdsClient } from './xds-e2e.js';

const [target, xds, nodeId, duration] = process.argv.slice(2);
if (!target || !xds || !nodeId || !duration) {
  process.stderr.write('usage: soak-client <target> <xds server> <node id> <duration ms>\n');
  process.exit(2);
}
const c = await xdsClient(target, xds, nodeId);
await eventually(() => callEcho(c, {}, {}, 2000), 15000);
const errors: string[] = [];
const versions: Record<string, number> = {};
let calls = 0;
const until = Date.now() + Number(duration);
while (Date.now() < until) {
  const batch = await Promise.allSettled(Array.from({ length: 10 }, () => callEcho(c)));
  calls += batch.length;
  for (const r of batch) {
    if (r.status === 'fulfilled') versions[r.value.version] = (versions[r.value.version] ?? 0) + 1;
    else errors.push(String((r.reason as Error).message));
  }
  await new Promise((r) => setTimeout(r, 50));
}
process.stdout.write(`${JSON.stringify({ calls, errors, versions })}\n`);
c.close();
process.exit(0);
