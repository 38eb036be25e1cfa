// `meshcd demo`: examples/mesh with real traffic (see src/demo).

import type { Command } from 'commander';
import { UserError } from './exit.js';
import { parseDuration, parsePort } from './ca.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('Run the example mesh with real traffic on 127.0.0.1: meshcd serve, one agent and one proxyless gRPC backend per workload, and a client; prints the live split per version')
    .option('-s, --source <dir>', 'config folder to serve (watched: edit it while the demo runs)', 'examples/mesh')
    .option('--xds-port <port>', 'plaintext xDS port (0 picks a free one)', '15010')
    .option('--tls-port <port>', 'xDS + CA over TLS (0 picks a free one)', '15012')
    .option('--admin-port <port>', 'admin HTTP port (0 picks a free one)', '15014')
    .option('--duration <duration>', 'stop after this long (default: run until Ctrl-C)')
    .option('--rate <n>', 'client calls per second (1–200)', '20')
    .option('--jason-percent <n>', 'share of reviews calls sent as the test user (end-user: jason → reviews v2)', '20')
    .option('--fail <version=percent>', 'make that reviews version fail this share of calls, e.g. v3=20 (watch a rollout roll back)', (v: string, prev: string[] = []) => [...prev, v], [])
    .option('--no-prometheus', 'do not start Prometheus even if it is installed')
    .option('--keep', 'keep the temporary folder (state, certificates, logs) on exit')
    .option('-o, --output <format>', 'text|json (one JSON object per second)', 'text')
    .addHelpText('after', '\nExit codes: 0 stopped by Ctrl-C or --duration, 2 bad flags or a part that did not start (its log is named).')
    .action(async (opts: { source: string; xdsPort: string; tlsPort: string; adminPort: string; duration?: string; rate: string; jasonPercent: string; keep?: boolean; output: string; fail: string[]; prometheus: boolean }) => {
      if (opts.output !== 'text' && opts.output !== 'json') throw new UserError(`--output: "${opts.output}" is not one of text, json`);
      const rate = Number(opts.rate);
      if (!Number.isFinite(rate) || rate < 1 || rate > 200) throw new UserError(`--rate: "${opts.rate}" is not a number from 1 to 200`);
      const jason = Number(opts.jasonPercent);
      if (!Number.isFinite(jason) || jason < 0 || jason > 100) throw new UserError(`--jason-percent: "${opts.jasonPercent}" is not a percentage`);
      const fail: Record<string, number> = {};
      for (const f of opts.fail) {
        const m = /^(v\d+)=(\d{1,3})$/.exec(f);
        if (!m || Number(m[2]) > 100) throw new UserError(`--fail: "${f}" is not VERSION=PERCENT (e.g. v3=20)`);
        fail[m[1]!] = Number(m[2]);
      }
      const { runDemo, findPrometheus } = await import('../demo/run.js');
      await runDemo({
        source: opts.source,
        xdsPort: parsePort(opts.xdsPort, '--xds-port'),
        tlsPort: parsePort(opts.tlsPort, '--tls-port'),
        adminPort: parsePort(opts.adminPort, '--admin-port'),
        ...(opts.duration ? { durationMs: parseDuration(opts.duration, '--duration') * 1000 } : {}),
        rate,
        jasonPercent: jason,
        keep: !!opts.keep,
        json: opts.output === 'json',
        fail,
        prometheus: opts.prometheus ? findPrometheus() : '',
        out: (l) => process.stdout.write(l + '\n'),
      });
      process.exitCode = 0;
    });
}
