// `meshcd serve`: one process from config to proxies. A folder source is
// read, loaded and validated into revisions; an accepted revision goes to the
// xDS server, a rejected one is reported and the last good config keeps
// serving. The folder loop (FolderFeed) is kept small and apart so a
// Reconciler with Git sources can replace it.

import type { Command } from 'commander';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Diagnostic } from '../api/types.js';
import { AdminServer } from '../admin/server.js';
import { loadRevision, ParseCache } from '../config/load.js';
import { buildServiceIndex } from '../registry/config.js';
import { readFolderRevision } from '../source/folder.js';
import { debounce } from '../source/watch.js';
import { enableDefaultMetrics } from '../util/metrics.js';
import { writeFileAtomic } from '../util/fs.js';
import { logger } from '../util/log.js';
import { hasErrors, validate } from '../validate/index.js';
import { XdsServer } from '../xds/server/index.js';
import { meshTranslator } from '../xds/server/translator.js';
import { UserError } from './exit.js';

interface ServeOptions {
  source: string;
  xdsPort: string;
  xdsAddress: string;
  adminPort: string;
  adminAddress: string;
  stateDir?: string;
}

function port(flag: string, v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) throw new UserError(`${flag}: "${v}" is not a port number (0–65535; 0 picks a free port)`);
  return n;
}

/** What a revision produced: accepted (sent to the server) or rejected with its errors. */
export interface RevisionOutcome {
  id: string;
  accepted: boolean;
  diagnostics: Diagnostic[];
}

/** Reads a folder on every change and hands valid revisions to `accept`. */
export class FolderFeed {
  private readonly log = logger('serve');
  private readonly cache = new ParseCache();
  private watcher: FSWatcher | undefined;
  private readonly debouncer = debounce(() => void this.apply());
  private running: Promise<void> | undefined;
  private again = false;
  lastAccepted: string | undefined;
  lastSeen: string | undefined;

  constructor(readonly dir: string, private readonly accept: (load: Awaited<ReturnType<typeof loadRevision>>, id: string) => void, private readonly report: (o: RevisionOutcome) => void) {}

  async start(): Promise<void> {
    await this.apply();
    const root = resolve(this.dir);
    this.watcher = watch(root, { ignoreInitial: true, ignored: (p: string) => p.slice(root.length).split(/[\\/]/).some((s) => s.startsWith('.') || s === 'node_modules') });
    this.watcher.on('all', () => this.debouncer.trigger());
    this.watcher.on('error', (err) => this.log.error({ err: (err as Error).message }, 'watching the source folder failed'));
    await new Promise<void>((r) => this.watcher!.once('ready', () => r()));
  }

  /** Serialised: a change during a load triggers one more load after it. */
  apply(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.applyOnce();
      } while (this.again);
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  private async applyOnce(): Promise<void> {
    let rev;
    try {
      rev = await readFolderRevision(this.dir);
    } catch (err) {
      this.report({ id: this.dir, accepted: false, diagnostics: [{ code: 'MCD0001', severity: 'error', message: (err as Error).message }] });
      return;
    }
    if (rev.id === this.lastSeen) return;
    this.lastSeen = rev.id;
    const load = await loadRevision(rev, { cache: this.cache });
    const diags = validate(load);
    if (hasErrors(diags)) {
      this.report({ id: rev.id, accepted: false, diagnostics: diags });
      return;
    }
    this.accept(load, rev.id);
    this.lastAccepted = rev.id;
    this.report({ id: rev.id, accepted: true, diagnostics: diags });
  }

  async close(): Promise<void> {
    this.debouncer.cancel();
    await this.watcher?.close();
    await this.running;
  }
}

export function grpcBootstrapExample(xds: string, namespace = 'bookinfo'): Record<string, unknown> {
  return {
    xds_servers: [{ server_uri: xds, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: `sidecar~127.0.0.1~client.${namespace}~${namespace}.svc.cluster.local`, locality: {}, metadata: { GENERATOR: 'grpc', NAMESPACE: namespace } },
    server_listener_resource_name_template: 'xds.istio.io/grpc/lds/inbound/%s',
  };
}

function formatDiag(d: Diagnostic): string {
  return `  ${d.origin ? `${d.origin.file}:${d.origin.line}` : '-'}  ${d.severity.toUpperCase()}  ${d.code}  ${d.resource ?? '-'}  ${d.message}`;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Serve mesh config from a folder to Envoy proxies and proxyless gRPC clients over xDS (ADS, SotW and delta)')
    .option('--source <dir>', 'config folder (watched for changes)', 'examples/mesh')
    .option('--xds-port <port>', 'xDS (plaintext gRPC) port; 0 picks a free one', '15010')
    .option('--xds-address <addr>', 'address the xDS port binds to', '127.0.0.1')
    .option('--admin-port <port>', 'admin HTTP port (/ready, /metrics, /debug/syncz, /debug/config_dump)', '15014')
    .option('--admin-address <addr>', 'address the admin port binds to', '127.0.0.1')
    .option('--state-dir <dir>', 'folder for state kept across restarts (last accepted revision)')
    .addHelpText('after', '\nExit codes: 0 stopped by SIGINT/SIGTERM, 2 bad flags or a port that cannot be bound.')
    .action(async (opts: ServeOptions) => {
      const xdsPort = port('--xds-port', opts.xdsPort);
      const adminPort = port('--admin-port', opts.adminPort);
      const log = logger('serve');
      enableDefaultMetrics();
      try {
        await readFolderRevision(opts.source);
      } catch (err) {
        throw new UserError(`--source: ${(err as Error).message}`);
      }
      if (opts.stateDir) await mkdir(opts.stateDir, { recursive: true, mode: 0o700 });

      const server = new XdsServer({ translator: meshTranslator() });
      const admin = new AdminServer();
      server.registerAdmin(admin);
      const feed = new FolderFeed(
        opts.source,
        (load, id) => {
          server.update({ config: load.config, index: buildServiceIndex(load.config) }, id);
          // The folder feed already debounced this burst of file changes; do not wait a second quiet period.
          server.flush();
        },
        (o) => {
          const errors = o.diagnostics.filter((d) => d.severity === 'error');
          if (o.accepted) {
            log.info({ revision: o.id, warnings: o.diagnostics.length }, 'revision accepted');
            process.stdout.write(`accepted ${o.id}${o.diagnostics.length ? ` (${o.diagnostics.length} warnings/infos)` : ''}\n`);
            if (opts.stateDir) void writeFileAtomic(join(opts.stateDir, 'serve-state.json'), JSON.stringify({ lastAccepted: o.id, at: new Date().toISOString() }) + '\n').catch((err) => log.error({ err: (err as Error).message }, 'cannot write state'));
          } else {
            log.warn({ revision: o.id, errors: errors.length }, 'revision rejected; the last accepted config keeps serving');
            process.stderr.write(`rejected ${o.id}: ${errors.length} error(s); still serving ${feed.lastAccepted ?? 'nothing (no revision accepted yet)'}\n${errors.slice(0, 20).map(formatDiag).join('\n')}\n`);
          }
        },
      );
      admin.setReadyCheck(() => feed.lastAccepted !== undefined);

      let boundXds: number;
      let boundAdmin: number;
      try {
        boundXds = await server.listen(xdsPort, opts.xdsAddress);
        boundAdmin = await admin.listen(adminPort, opts.adminAddress);
      } catch (err) {
        await server.close();
        await admin.close();
        throw new UserError((err as Error).message.replace(/^cannot listen/, `--xds-port/--admin-port: cannot listen`));
      }
      await feed.start();
      server.flush();
      const xdsAddr = `${opts.xdsAddress.includes(':') ? `[${opts.xdsAddress}]` : opts.xdsAddress}:${boundXds}`;
      process.stdout.write(
        [
          `meshcd serving ${resolve(opts.source)}`,
          `  xDS (ADS, plaintext gRPC): ${xdsAddr}`,
          `  admin:                     http://${opts.adminAddress}:${boundAdmin}  (/ready /metrics /debug/syncz /debug/config_dump?proxy=ID)`,
          `Point a proxyless gRPC client at it: write this to a file and set GRPC_XDS_BOOTSTRAP to its path, then dial xds:///reviews.bookinfo.svc.cluster.local:9080`,
          JSON.stringify(grpcBootstrapExample(xdsAddr)),
          '',
        ].join('\n'),
      );

      await new Promise<void>((done) => {
        const stop = (sig: string) => {
          process.off('SIGINT', onInt);
          process.off('SIGTERM', onTerm);
          log.info({ signal: sig }, 'shutting down');
          void (async () => {
            await feed.close();
            await server.close();
            await admin.close();
            done();
          })();
        };
        const onInt = () => stop('SIGINT');
        const onTerm = () => stop('SIGTERM');
        process.on('SIGINT', onInt);
        process.on('SIGTERM', onTerm);
      });
      process.exitCode = 0;
    });
}
