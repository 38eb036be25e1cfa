// A real Prometheus for tests: /usr/bin/prometheus (Debian package
// `prometheus`, installed by .ci/deps) with a temporary config scraping the
// given targets every second, a temporary TSDB, listening on 127.0.0.1 on a
// free port. stop() ends it (idempotent); callers register it in t.teardown.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PROMETHEUS_BIN = process.env.MESHCD_PROMETHEUS_BIN ?? '/usr/bin/prometheus';

export interface TestPrometheus {
  /** `http://127.0.0.1:<port>` */
  address: string;
  stop(): Promise<void>;
  /** The last lines Prometheus wrote (for failure messages). */
  log(): string;
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Starts Prometheus scraping `targets` (`127.0.0.1:port`) at 1 s and waits until it is ready. */
export async function startPrometheus(targets: string[], opts: { readyTimeoutMs?: number } = {}): Promise<TestPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'meshcd-prom-'));
  const config = join(dir, 'prometheus.yml');
  await writeFile(
    config,
    ['global:', '  scrape_interval: 1s', '  scrape_timeout: 1s', '  evaluation_interval: 1s', 'scrape_configs:', '- job_name: istio-mesh', '  static_configs:', `  - targets: [${targets.map((x) => JSON.stringify(x)).join(', ')}]`, ''].join('\n'),
  );
  const port = await freePort();
  const address = `http://127.0.0.1:${port}`;
  let output = '';
  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn', '--storage.tsdb.retention.time=1h'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
  let exited = false;
  const exit = new Promise<void>((r) => child.once('exit', () => { exited = true; r(); }));
  child.once('error', (err) => (output += `\nspawn ${PROMETHEUS_BIN}: ${err.message}`));
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`prometheus exited before it was ready (apt-get install prometheus?):\n${output}`);
    }
    try {
      const res = await fetch(`${address}/-/ready`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready at ${address} after ${opts.readyTimeoutMs ?? 30_000} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { address, stop, log: () => output };
}
