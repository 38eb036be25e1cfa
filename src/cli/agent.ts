// `meshcd agent`: runs beside a workload (see src/agent). Tokens come from a
// file only; a token on the command line would show in `ps` and shell history.

import type { Command } from 'commander';
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { WorkloadAgent } from '../agent/agent.js';
import { SdsServer } from '../agent/sds.js';
import { envoyBootstrap, grpcBootstrap, type BootstrapOptions } from '../agent/bootstrap.js';
import { writeFileAtomic } from '../util/fs.js';
import { UserError } from './exit.js';
import { parseDuration, parsePort } from './ca.js';
import { AdminServer } from '../admin/server.js';

interface AgentFlags {
  caAddress: string;
  caRootCert: string;
  caServerName?: string;
  tokenFile?: string;
  namespace: string;
  serviceAccount: string;
  outputDir: string;
  sdsSocket?: string;
  xdsAddress?: string;
  bootstrapOut?: string;
  proxyKind: string;
  ip?: string;
  podName?: string;
  labels?: string;
  ttl?: string;
  keyType: string;
  certRefreshInterval: string;
  metricsPort?: string;
}

export function parseLabels(value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!value) return out;
  for (const part of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const i = part.indexOf('=');
    if (i <= 0) throw new UserError(`--labels: "${part}" is not key=value`);
    out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

function hostPort(value: string, flag: string): string {
  if (!/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(value)) throw new UserError(`${flag}: "${value}" is not host:port`);
  return value;
}

function defaultIp(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

const NAME_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description('Workload agent: local key + CSR to the CA, cert files for gRPC, SDS for Envoy, renewal at half life, xDS bootstrap file')
    .requiredOption('--ca-address <host:port>', "the CA's TLS address (meshcd port 15012)")
    .requiredOption('--ca-root-cert <file>', "PEM root(s) that validate the CA's TLS certificate (re-read on every request)")
    .option('--ca-server-name <name>', "name to check on the CA's certificate when the address is not one of its names")
    .option('--token-file <file>', 'file with the bootstrap or service-account token for the first certificate')
    .requiredOption('--namespace <ns>', 'workload namespace')
    .requiredOption('--service-account <sa>', 'workload service account')
    .requiredOption('--output-dir <dir>', 'where cert-chain.pem, key.pem (0600) and root-cert.pem are written')
    .option('--sds-socket <path>', 'serve SDS (secrets "default" and "ROOTCA") to Envoy on this Unix socket')
    .option('--xds-address <host:port>', "meshcd's xDS address, for the bootstrap file")
    .option('--bootstrap-out <file>', 'write the xDS bootstrap here (gRPC: GRPC_XDS_BOOTSTRAP; sidecar: Envoy -c)')
    .option('--proxy-kind <kind>', 'grpc|sidecar', 'grpc')
    .option('--ip <ip>', 'workload IP (node id, INSTANCE_IPS)')
    .option('--pod-name <name>', 'pod/instance name for the node id (default: host name)')
    .option('--labels <k=v,...>', 'workload labels (node metadata LABELS)')
    .option('--ttl <duration>', 'requested certificate lifetime (default: the CA default, 24h)')
    .option('--key-type <alg>', 'ec|rsa', 'ec')
    .option('--cert-refresh-interval <duration>', "how often gRPC's file watcher re-reads the files (bootstrap)", '60s')
    .option('--metrics-port <port>', 'serve /metrics and /ready on 127.0.0.1:<port> (0 picks a free port)')
    .action(async (o: AgentFlags) => {
      hostPort(o.caAddress, '--ca-address');
      if (!NAME_RE.test(o.namespace)) throw new UserError(`--namespace: "${o.namespace}" is not a valid namespace name`);
      if (!NAME_RE.test(o.serviceAccount)) throw new UserError(`--service-account: "${o.serviceAccount}" is not a valid service account name`);
      if (o.proxyKind !== 'grpc' && o.proxyKind !== 'sidecar') throw new UserError(`--proxy-kind: "${o.proxyKind}" is not one of grpc, sidecar`);
      if (o.keyType !== 'ec' && o.keyType !== 'rsa') throw new UserError(`--key-type: "${o.keyType}" is not one of ec, rsa`);
      if (o.ip && !isIP(o.ip)) throw new UserError(`--ip: "${o.ip}" is not an IP address`);
      if (o.bootstrapOut && !o.xdsAddress) throw new UserError('--bootstrap-out needs --xds-address');
      if (o.xdsAddress) hostPort(o.xdsAddress, '--xds-address');
      if (o.proxyKind === 'sidecar' && o.bootstrapOut && !o.sdsSocket) throw new UserError('--proxy-kind sidecar with --bootstrap-out needs --sds-socket (Envoy gets its certificates over SDS)');
      const ttl = o.ttl ? parseDuration(o.ttl, '--ttl') : undefined;
      const refresh = parseDuration(o.certRefreshInterval, '--cert-refresh-interval');
      const labels = parseLabels(o.labels);
      const outputDir = resolve(o.outputDir);

      if (o.bootstrapOut) {
        const b: BootstrapOptions = {
          kind: o.proxyKind as 'grpc' | 'sidecar',
          xdsAddress: o.xdsAddress!,
          // Pointed at meshcd's TLS port (the CA's address): xDS over TLS with the agent's own certificate.
          xdsTls: o.xdsAddress === o.caAddress,
          namespace: o.namespace,
          serviceAccount: o.serviceAccount,
          podName: o.podName ?? hostname(),
          ip: o.ip ?? defaultIp(),
          labels,
          certDir: outputDir,
          refreshIntervalSeconds: refresh,
          ...(o.sdsSocket ? { sdsSocket: resolve(o.sdsSocket) } : {}),
        };
        const doc = b.kind === 'grpc' ? grpcBootstrap(b) : envoyBootstrap(b);
        await writeFileAtomic(resolve(o.bootstrapOut), JSON.stringify(doc, null, 2) + '\n');
      }

      const agent = new WorkloadAgent({
        caAddress: o.caAddress,
        caRootCertFile: resolve(o.caRootCert),
        ...(o.tokenFile ? { tokenFile: resolve(o.tokenFile) } : {}),
        ...(o.caServerName ? { caServerName: o.caServerName } : {}),
        namespace: o.namespace,
        serviceAccount: o.serviceAccount,
        outputDir,
        ...(ttl ? { ttlSeconds: ttl } : {}),
        keyAlgorithm: o.keyType,
      });
      let sds: SdsServer | undefined;
      if (o.sdsSocket) {
        sds = new SdsServer(resolve(o.sdsSocket));
        try {
          await sds.start();
        } catch (err) {
          throw new UserError(`--sds-socket: ${(err as Error).message}`);
        }
        agent.onUpdate((m) => sds!.update(m));
      }
      let admin: AdminServer | undefined;
      if (o.metricsPort !== undefined) {
        admin = new AdminServer();
        admin.setReadyCheck(() => agent.current() !== undefined);
        const port = await admin.listen(parsePort(o.metricsPort, '--metrics-port')).catch((err: Error) => {
          throw new UserError(`--metrics-port: ${err.message}`);
        });
        process.stderr.write(`meshcd agent metrics on http://127.0.0.1:${port}/metrics\n`);
      }
      await agent.start();
      await new Promise<void>((done) => {
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
        process.on('SIGHUP', () => void agent.renewNow());
      });
      agent.stop();
      await sds?.close();
      await admin?.close();
    });
}
