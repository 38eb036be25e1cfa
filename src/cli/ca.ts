// `meshcd ca serve | status | rotate`: the embedded CA on its own, and the
// operator's view of it. The control plane embeds the same CA on port 15012.

import type { Command } from 'commander';
import { CertificateAuthority, type CaStatus } from '../ca/authority.js';
import { TokenFileAuthenticator, type Authenticator } from '../ca/auth.js';
import { defaultAuth, startCaServer } from '../ca/service.js';
import { UserError } from './exit.js';
import { checkOutput, printStructured } from './output.js';

/** Where `meshcd serve` keeps its state by default; the CA commands look there too. */
export const DEFAULT_STATE_DIR = '.meshcd';

/** `30s`, `15m`, `24h`, `90d` or plain seconds → seconds. */
export function parseDuration(value: string, flag: string): number {
  const m = /^(\d+)(s|m|h|d)?$/.exec(value.trim());
  if (!m) throw new UserError(`${flag}: "${value}" is not a duration (e.g. 30s, 15m, 24h, 90d)`);
  const n = Number(m[1]);
  const mult = { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  return n * mult;
}

export function parsePort(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UserError(`${flag}: "${value}" is not a port number`);
  return n;
}

async function openCa(opts: { stateDir: string; pluginDir?: string; trustDomain?: string; rootKey?: string; readOnly?: boolean; watch?: boolean; defaultTtl?: string; maxTtl?: string; minTtl?: string }): Promise<CertificateAuthority> {
  if (opts.rootKey && opts.rootKey !== 'rsa' && opts.rootKey !== 'ec') throw new UserError(`--root-key: "${opts.rootKey}" is not one of rsa, ec`);
  try {
    return await CertificateAuthority.open({
      stateDir: opts.stateDir,
      ...(opts.pluginDir ? { pluginDir: opts.pluginDir } : {}),
      ...(opts.trustDomain ? { trustDomain: opts.trustDomain } : {}),
      ...(opts.rootKey ? { rootKeyAlgorithm: opts.rootKey as 'rsa' | 'ec' } : {}),
      ...(opts.defaultTtl ? { defaultTtlSeconds: parseDuration(opts.defaultTtl, '--default-ttl') } : {}),
      ...(opts.maxTtl ? { maxTtlSeconds: parseDuration(opts.maxTtl, '--max-ttl') } : {}),
      ...(opts.minTtl ? { minTtlSeconds: parseDuration(opts.minTtl, '--min-ttl') } : {}),
      readOnly: opts.readOnly ?? false,
      watch: opts.watch ?? false,
    });
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`CA in ${opts.stateDir}: ${(err as Error).message}`);
  }
}

function printStatus(s: CaStatus): void {
  const out: string[] = [];
  out.push(`mode:          ${s.mode}`);
  out.push(`trust domain:  ${s.trustDomain}`);
  out.push(`signer:        ${s.signer.subject} (until ${s.signer.notAfter})`);
  out.push(`rotation:      ${s.rotation.phase}${s.rotation.completesBy ? ` (at the latest ${s.rotation.completesBy})` : ''}`);
  if (s.rotation.phase === 'distributing') out.push(`               ${s.rotation.awaitingNewBundle} live certificate(s) issued before the rotation; the new root signs once they renew`);
  if (s.rotation.phase === 'overlap') out.push(`               ${s.rotation.remainingOnOldRoots} live certificate(s) still chain to an old root`);
  out.push('trust bundle:');
  for (const r of s.roots) {
    out.push(`  ${r.active ? '*' : ' '} ${r.fingerprint.slice(0, 16)}  ${r.subject}  until ${r.notAfter}  live certs: ${r.activeCerts}${r.retireAfter ? `  retiring by ${r.retireAfter}` : ''}`);
  }
  process.stdout.write(out.join('\n') + '\n');
}

export function registerCa(program: Command): void {
  const ca = program.command('ca').description('The embedded certificate authority: serve the CSR API, show status, rotate the root');

  ca.command('serve')
    .description('Serve istio.v1.auth.IstioCertificateService on a TLS port (standalone; the control plane serves it on 15012 too)')
    .option('--state-dir <dir>', 'state directory (the CA keeps its files in <dir>/ca)', DEFAULT_STATE_DIR)
    .option('--plugin-dir <dir>', 'plug-in CA folder with ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem')
    .option('--trust-domain <domain>', 'SPIFFE trust domain', 'cluster.local')
    .option('--root-key <alg>', 'key type of a generated root: rsa|ec', 'rsa')
    .option('--token-file <file>', 'bootstrap tokens (YAML/JSON: token → namespace, serviceAccount)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'TLS port', '15012')
    .option('--namespace <ns>', 'namespace meshcd runs in (server certificate name meshcd.<ns>.svc)', 'meshcd-system')
    .option('--default-ttl <duration>', 'certificate lifetime when the request gives none', '24h')
    .option('--max-ttl <duration>', 'longest lifetime a request may ask for', '90d')
    .option('--min-ttl <duration>', 'shortest lifetime issued', '60s')
    .action(async (o: { stateDir: string; pluginDir?: string; trustDomain: string; rootKey: string; tokenFile?: string; host: string; port: string; namespace: string; defaultTtl: string; maxTtl: string; minTtl: string }) => {
      // Every input is checked before the CA creates its root.
      const port = parsePort(o.port, '--port');
      const others: Authenticator[] = [];
      let tokens: TokenFileAuthenticator | undefined;
      if (o.tokenFile) {
        try {
          tokens = await TokenFileAuthenticator.load(o.tokenFile);
        } catch (err) {
          throw new UserError(`--token-file: ${(err as Error).message}`);
        }
        others.push(tokens);
      }
      const authority = await openCa({ ...o, watch: true });
      tokens?.watch();
      let server;
      try {
        server = await startCaServer({ port, host: o.host, ca: authority, auth: defaultAuth(authority, others), namespace: o.namespace });
      } catch (err) {
        throw new UserError(`--port: ${(err as Error).message}`);
      }
      process.stdout.write(`meshcd CA listening on ${o.host}:${server.port} (trust domain ${authority.trustDomain}, ${authority.mode})\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
      tokens?.close();
      await authority.close();
    });

  ca.command('status')
    .description('Show the signer, the trust bundle and the progress of a root rotation')
    .option('--state-dir <dir>', 'state directory (as for meshcd serve)', DEFAULT_STATE_DIR)
    .option('--plugin-dir <dir>', 'plug-in CA folder, when the CA uses one')
    .option('-o, --output <format>', 'text|json|yaml', 'text')
    .action(async (o: { stateDir: string; pluginDir?: string; output: string }) => {
      const format = checkOutput(o.output, ['text', 'json', 'yaml'] as const);
      const authority = await openCa({ ...o, readOnly: true });
      const s = authority.status();
      await authority.close();
      if (format === 'text') printStatus(s);
      else printStructured(format, s);
    });

  ca.command('rotate')
    .description('Start a root rotation: a new root joins the trust bundle, signs once every workload has it; the old root leaves when unused')
    .option('--state-dir <dir>', 'state directory (as for meshcd serve)', DEFAULT_STATE_DIR)
    .option('--root-key <alg>', 'key type of the new root: rsa|ec', 'rsa')
    .option('-o, --output <format>', 'text|json|yaml', 'text')
    .action(async (o: { stateDir: string; rootKey: string; output: string }) => {
      const format = checkOutput(o.output, ['text', 'json', 'yaml'] as const);
      // Refuse to create a CA just to rotate it.
      await (await openCa({ stateDir: o.stateDir, readOnly: true })).close();
      const authority = await openCa({ stateDir: o.stateDir, rootKey: o.rootKey });
      let s: CaStatus;
      try {
        s = await authority.rotateRoot();
      } catch (err) {
        await authority.close();
        throw new UserError((err as Error).message);
      }
      await authority.close();
      if (format === 'text') printStatus(s);
      else printStructured(format, s);
    });
}
