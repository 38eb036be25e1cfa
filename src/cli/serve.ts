// `meshcd serve`: one process from Git to proxies. The Reconciler
// (source/) fetches or watches every source, validates the merged set with
// the same layers and policies as `meshcd validate`, and hands an accepted
// set to the xDS server; a rejected one is reported and the last good config
// keeps serving.

import type { Command } from 'commander';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ConfigSet, Diagnostic } from '../api/types.js';
import { AdminServer, json } from '../admin/server.js';
import { installFaultHandlers } from '../admin/faults.js';
import { readAdminToken } from '../admin/token.js';
import { redact, rememberSecret } from '../source/secret.js';
import { readFolderRevision } from '../source/folder.js';
import { safeUrl } from '../source/secret.js';
import { addSourceOptions, policiesFromOptions, sourceSpecsFromOptions } from '../source/cli.js';
import { Reconciler, type AcceptedEvent, type RejectedEvent, type FetchFailedEvent, type NoticeEvent, type RecoveredEvent } from '../source/reconcile.js';
import type { SourceFlags } from '../source/spec.js';
import { enableDefaultMetrics } from '../util/metrics.js';
import { logger } from '../util/log.js';
import { CaInputError, openEmbeddedCa, registerCaAdminRoutes, type EmbeddedCa } from '../ca/index.js';
import { streamAuthenticator, XDS_LIMITS, XdsServer } from '../xds/server/index.js';
import { registerXdsDebugRoutes, xdsDebugSource } from '../xds/debug.js';
import { SnapshotCache, translatingBuilder } from '../xds/cache/index.js';
import { XdsEvents } from '../xds/callbacks.js';
import { watchSendBudget, xdsMetrics } from '../xds/metrics.js';
import { credentialsFor, trustBundleSecret } from '../xds/server/authorize.js';
import { readCredentialsDir } from '../xds/server/credentials.js';
import { debounce } from '../source/watch.js';
import { watch, type FSWatcher } from 'chokidar';
import { meshTranslator } from '../xds/server/translator.js';
import { grpcBootstrap } from '../agent/bootstrap.js';
import { UserError } from './exit.js';
import { parseDuration } from './ca.js';
import { rolloutFlags, wireRollouts, type RolloutFlags } from '../rollout/wire.js';
// The Kubernetes modules (and @kubernetes/client-node, ~0.6 s and ~45 MiB of heap to load) only with a cluster.
import type { KubernetesRegistry } from '../registry/kubernetes/index.js';
import { parseClusterFlags } from '../registry/kubernetes/flags.js';
import { buildServiceIndex } from '../registry/config.js';
import type { ClusterWiring } from '../cluster/wire.js';
import { checkClusterFlags, ownNamespace, type ClusterFlags } from '../cluster/flags.js';
import { wireDashboard } from '../dashboard/wire.js';
import { registerRepoRoutes } from './repo-routes.js';

interface ServeOptions extends SourceFlags, RolloutFlags, ClusterFlags {
  xdsPort: string;
  xdsAddress: string;
  adminPort: string;
  adminAddress: string;
  stateDir: string;
  policies: string[];
  defaultPolicies: boolean;
  tlsPort: string;
  tlsAddress: string;
  ca: boolean;
  caTokenFile?: string;
  caPluginDir?: string;
  trustDomain: string;
  rootKey: string;
  caMinTtl?: string;
  credentialsDir?: string;
  xdsAllowUnauthenticated: boolean;
  adminTokenFile?: string;
  adminTokenEnv?: string;
  prometheus?: string;
  xdsMaxStreamsPerConnection: string;
  xdsMaxStreamsPerPeer: string;
  xdsMaxNamesPerType: string;
  xdsMaxNamesPerStream: string;
  xdsStallTimeout: string;
  xdsPushBudget: string;
  kubeconfig: string[];
  inCluster?: boolean;
  clusterId: string;
  clusterDomain: string;
  remoteSecrets?: boolean;
}

function positive(flag: string, v: string): number {
  if (!/^\d{1,9}$/.test(v) || Number(v) < 1) throw new UserError(`${flag}: "${v.slice(0, 40)}" is not a positive whole number`);
  return Number(v);
}

function port(flag: string, v: string, canDisable = false): number {
  if (canDisable && v === '-1') return -1;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) throw new UserError(`${flag}: "${v}" is not a port number (0–65535; 0 picks a free port${canDisable ? '; -1 turns it off' : ''})`);
  return n;
}

const collect = (value: string, prev: string[] = []) => [...prev, value];

/** Who the bootstrap that `serve` prints is: bookinfo's productpage, the client the example's AuthorizationPolicies allow. */
export const EXAMPLE_CLIENT = { namespace: 'bookinfo', serviceAccount: 'bookinfo-productpage', podName: 'client', ip: '127.0.0.1' } as const;

/**
 * The GRPC_XDS_BOOTSTRAP `serve` prints: the same document `meshcd agent
 * --bootstrap-out` writes (one builder), on the plaintext port (grpc-js-xds
 * 1.14 cannot do TLS to its xDS server), with the certificate provider
 * `default` reading `certDir` — the files `exampleAgentCommand` keeps fresh.
 * ISTIO_MUTUAL DestinationRules and STRICT servers need that provider; without
 * it grpc-js NACKs their clusters. With no CA there is nothing to fill it, so
 * the provider is left out.
 */
export function grpcBootstrapExample(xds: string, certDir: string | undefined): Record<string, unknown> {
  const doc = grpcBootstrap({ kind: 'grpc', xdsAddress: xds, ...EXAMPLE_CLIENT, labels: {}, certDir: certDir ?? '' });
  if (!certDir) delete doc.certificate_providers;
  return doc;
}

/** The agent command line that writes (and renews) the example client's certificate files for the printed bootstrap. */
export function exampleAgentCommand(tls: string, stateDir: string): string {
  const quote = (p: string) => (/^[\w./:@=-]+$/.test(p) ? p : `'${p.replace(/'/g, "'\\''")}'`);
  return ['meshcd agent', '--ca-address', tls, '--ca-root-cert', quote(resolve(stateDir, 'ca', 'trust-bundle.pem')), '--token-file', 'TOKEN_FILE', '--namespace', EXAMPLE_CLIENT.namespace, '--service-account', EXAMPLE_CLIENT.serviceAccount, '--output-dir', quote(exampleCertDir(stateDir))].join(' ');
}

export function exampleCertDir(stateDir: string): string {
  return resolve(stateDir, 'workloads', EXAMPLE_CLIENT.serviceAccount);
}

function formatDiag(d: Diagnostic): string {
  return `  ${d.origin ? `${d.origin.file}:${d.origin.line}` : '-'}  ${d.severity.toUpperCase()}  ${d.code}  ${d.resource ?? '-'}  ${d.message}`;
}

export function registerServe(program: Command): void {
  const cmd = program
    .command('serve')
    .description('Serve mesh config from Git repositories or folders to Envoy proxies and proxyless gRPC clients over xDS (ADS, SotW and delta)')
    .option('--xds-port <port>', 'xDS over plaintext gRPC: config and the ROOTCA trust bundle only, never keys; 0 picks a free port, -1 turns it off', '15010')
    .option('--xds-address <addr>', 'address the xDS port binds to', '127.0.0.1')
    .option('--admin-port <port>', 'admin HTTP port (/ready, /metrics, /api/v1/sources, /hooks/NAME, /debug/syncz, /debug/config_dump)', '15014')
    .option('--admin-address <addr>', 'address the admin port binds to', '127.0.0.1')
    .option('--state-dir <dir>', 'Git clones and state kept across restarts', '.meshcd')
    .option('--policies <dir>', 'extra policy folder (repeatable)', collect, [])
    .option('--no-default-policies', 'do not apply the shipped baseline policies')
    .option('--tls-port <port>', 'xDS and the CA (Istio CreateCertificate) over TLS with a certificate from the embedded CA; 0 picks a free one', '15012')
    .option('--tls-address <addr>', 'address the TLS port binds to', '127.0.0.1')
    .option('--no-ca', 'run without the embedded CA and the TLS port')
    .option('--xds-max-streams-per-connection <n>', 'ADS streams one connection may open; more are refused with RESOURCE_EXHAUSTED', String(XDS_LIMITS.maxStreamsPerConnection))
    .option('--xds-max-streams-per-peer <n>', 'ADS streams one peer address may hold', String(XDS_LIMITS.maxStreamsPerPeer))
    .option('--xds-max-names-per-type <n>', 'resource names one stream may subscribe per type', String(XDS_LIMITS.maxNamesPerType))
    .option('--xds-max-names-per-stream <n>', 'resource names one stream may subscribe across types', String(XDS_LIMITS.maxNamesPerStream))
    .option('--xds-push-budget <MiB>', 'responses written to ADS clients and not yet taken by them, across all connections (like istiod\'s push throttle, in bytes); a push waits for room', String(XDS_LIMITS.totalSendBudgetBytes / (1024 * 1024)))
    .option('--xds-stall-timeout <seconds>', 'reset an ADS stream whose client has read nothing for this long', String(XDS_LIMITS.stallMs / 1000))
    .option('--xds-allow-unauthenticated', 'on the TLS port, serve config (never secrets) to streams without a client certificate or token (proxyless clients during a migration)', false)
    .option('--ca-token-file <file>', 'bootstrap tokens (token → namespace, service account) the CA accepts; watched')
    .option('--ca-plugin-dir <dir>', "plug-in CA folder with Istio's ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem")
    .option('--trust-domain <domain>', 'SPIFFE trust domain of issued certificates', 'cluster.local')
    .option('--root-key <alg>', 'key type of a generated root: rsa|ec', 'rsa')
    .option('--ca-min-ttl <duration>', 'shortest workload certificate the CA issues (shorter requests are raised to it), as `meshcd ca serve --min-ttl`', '60s')
    .option('--admin-token-file <file>', 'bearer token that mutating admin routes (rollout promote/abort/retry/pause/resume, …) require, read once at start; without it (or --admin-token-env) those routes answer 403')
    .option('--admin-token-env <name>', 'environment variable holding that token, instead of a file')
    .option('--prometheus <url>', 'Prometheus for Rollout analysis when a Rollout names none')
    .option('--rollout-webhook-secret-file <file>', 'HMAC secret that signs every Rollout webhook (X-Meshcd-Signature: sha256=…), read on each call')
    .option('--rollout-webhook-secret-env <name>', 'environment variable holding that secret, instead of a file')
    .option('--write-back-author <"Name <email>">', 'author and committer of the revert commits a rollback pushes', 'meshcd <meshcd@localhost>')
    .option('--canary-reconnect-grace <seconds>', 'after a restart or a change of leader mid config canary, how long cohort proxies that have not reconnected yet still hold its ACK gate', '30')
    .option('--kubeconfig <[id=]file>', 'discover Services, EndpointSlices, Pods, Nodes and Namespaces of the cluster in this kubeconfig (its current context); repeat for more clusters, each with its id', collect, [])
    .option('--in-cluster', 'discover the cluster meshcd runs in, with its pod\'s service account')
    .option('--cluster-id <id>', 'id of the first (or in-cluster) cluster, as Istio\'s topology.istio.io/cluster', 'Kubernetes')
    .option('--cluster-domain <domain>', 'Kubernetes services are <name>.<namespace>.svc.<domain>', 'cluster.local')
    .option('--remote-secrets', 'also discover the remote clusters of Istio\'s multi-cluster Secrets (label istio/multiCluster=true in --namespace of the first cluster; each key a cluster id, its value a kubeconfig), added, changed and removed at run time')
    .option('--namespace <ns>', 'namespace meshcd runs in (its Lease, state ConfigMap, CA Secret); default $POD_NAMESPACE, else the pod\'s, else meshcd-system')
    .option('--token-review', 'accept Kubernetes service-account tokens (TokenReview on the first cluster) for CreateCertificate and xDS on the TLS port')
    .option('--token-audience <aud>', 'audience a service-account token must be for (repeatable)', collect, [])
    .option('--ca-secret <name>', 'keep the CA\'s key in this Secret of --namespace (Istio\'s cacerts keys), created with a new root when missing; every replica issues under it')
    .option('--publish-root-cert [name]', 'write the trust bundle to a ConfigMap (default istio-ca-root-cert, key root-cert.pem) in every namespace')
    .option('--gateway-secrets', 'serve Gateway credentialName from kubernetes.io/tls Secrets (instead of --credentials-dir)')
    .option('--rollout-status', 'write each Rollout\'s status to ConfigMap meshcd-rollout-<name> in its namespace, and its steps as Events')
    .option('--leader-elect', 'several replicas: one leader (a Lease) runs rollouts and Git write-back; rollout state lives in ConfigMap meshcd-state')
    .option('--lease-name <name>', 'the Lease of --leader-elect', 'meshcd-leader')
    .option('--lease-duration <seconds>', 'a leader that stops renewing is replaced after this long (renews every 2/15 of it)', '15')
    .option('--credentials-dir <dir>', 'gateway credentials: <dir>/<namespace>/<credentialName>/{tls.crt,tls.key,ca.crt}, served over SDS to that namespace\'s gateways; watched');
  addSourceOptions(cmd)
    .addHelpText('after', '\nWith no --source or --config, serves examples/mesh.\nExit codes: 0 stopped by SIGINT/SIGTERM, 2 bad flags, unreadable sources or policies, or a port that cannot be bound.')
    .action(async (opts: ServeOptions) => {
      const xdsPort = port('--xds-port', opts.xdsPort, true);
      const adminPort = port('--admin-port', opts.adminPort);
      const tlsPort = port('--tls-port', opts.tlsPort);
      const caMinTtl = parseDuration(opts.caMinTtl ?? '60s', '--ca-min-ttl');
      if (opts.rootKey !== 'rsa' && opts.rootKey !== 'ec') throw new UserError(`--root-key: "${opts.rootKey}" is not one of rsa, ec`);
      const log = logger('serve');
      enableDefaultMetrics();
      if (!opts.source?.length && !opts.config) opts.source = ['examples/mesh'];
      const specs = sourceSpecsFromOptions(opts);
      for (const spec of specs) {
        if (spec.kind !== 'dir') continue;
        try {
          await readFolderRevision(spec.dir!);
        } catch (err) {
          throw new UserError(`--source: ${(err as Error).message}`);
        }
      }
      const policies = await policiesFromOptions(opts);
      const adminToken = await readAdminToken({ file: opts.adminTokenFile, env: opts.adminTokenEnv }).catch((err: Error) => Promise.reject(new UserError(err.message)));
      if (adminToken) rememberSecret(adminToken);
      // --- kubernetes (issue 11): discovery merged into the index of every update.
      let kube: KubernetesRegistry | undefined;
      try {
        const clusters = parseClusterFlags(opts.kubeconfig, !!opts.inCluster, opts.clusterId);
        if (opts.remoteSecrets && !clusters.length) throw new Error('--remote-secrets: needs a cluster (--kubeconfig or --in-cluster) to read the Secrets from');
        if (clusters.length) kube = new (await import('../registry/kubernetes/index.js')).KubernetesRegistry({ clusters, clusterDomain: opts.clusterDomain, ...(opts.remoteSecrets ? { remoteSecrets: { namespace: ownNamespace(opts.namespace) } } : {}) });
      } catch (err) {
        throw new UserError((err as Error).message);
      }
      let cluster: ClusterWiring | undefined;
      try {
        const clusterFlags = { ...opts, tokenAudience: opts.tokenAudience.length ? opts.tokenAudience : ['istio-ca'] };
        checkClusterFlags(clusterFlags, kube !== undefined);
        if (kube) cluster = new (await import('../cluster/wire.js')).ClusterWiring(clusterFlags, kube);
      } catch (err) {
        throw new UserError((err as Error).message);
      }
      if (opts.gatewaySecrets && opts.credentialsDir) throw new UserError('--gateway-secrets and --credentials-dir: give one of them');
      if (opts.caSecret && opts.caPluginDir) throw new UserError('--ca-secret and --ca-plugin-dir: give one of them');
      if (opts.caSecret && !opts.ca) throw new UserError('--ca-secret with --no-ca: the Secret holds the CA\'s key; drop one of them');
      // --- end kubernetes
      await mkdir(opts.stateDir, { recursive: true, mode: 0o700 });

      // The builder translates (once per proxy class); the cache holds snapshots and revisions (current, canary);
      // the server only streams them and reports through xdsEvents (subscribe there: metrics, rollouts, dashboard).
      const builder = translatingBuilder(meshTranslator(), { authorizeCredentials: credentialsFor });
      const cache = new SnapshotCache(builder);
      const xdsEvents = new XdsEvents();
      xdsEvents.subscribe(xdsMetrics());
      const server = new XdsServer({
        watcher: cache,
        callbacks: xdsEvents,
        maxStreamsPerConnection: positive('--xds-max-streams-per-connection', opts.xdsMaxStreamsPerConnection),
        maxStreamsPerPeer: positive('--xds-max-streams-per-peer', opts.xdsMaxStreamsPerPeer),
        maxNamesPerType: positive('--xds-max-names-per-type', opts.xdsMaxNamesPerType),
        maxNamesPerStream: positive('--xds-max-names-per-stream', opts.xdsMaxNamesPerStream),
        stallMs: positive('--xds-stall-timeout', opts.xdsStallTimeout) * 1000,
        totalSendBudgetBytes: positive('--xds-push-budget', opts.xdsPushBudget) * 1024 * 1024,
      });
      watchSendBudget(() => server.sendTotals());
      const admin = new AdminServer();
      admin.setAdminToken(adminToken);
      registerXdsDebugRoutes(admin, xdsDebugSource(server, cache));
      let ca: EmbeddedCa | undefined;
      if (opts.ca) {
        const secretDir = await cluster?.caPluginDir(opts.stateDir, { rootKey: opts.rootKey as 'rsa' | 'ec', trustDomain: opts.trustDomain }).catch((err: Error) => {
          throw new UserError(`--ca-secret: ${err.message}`);
        });
        if (secretDir) opts.caPluginDir = secretDir;
        try {
          ca = await openEmbeddedCa({
            authenticators: cluster?.authenticators() ?? [],
            stateDir: opts.stateDir,
            trustDomain: opts.trustDomain,
            rootKeyAlgorithm: opts.rootKey as 'rsa' | 'ec',
            minTtlSeconds: caMinTtl,
            ...(opts.caPluginDir ? { pluginDir: opts.caPluginDir } : {}),
            ...(opts.caTokenFile ? { tokenFile: opts.caTokenFile } : {}),
          });
        } catch (err) {
          const flag = err instanceof CaInputError ? { tokenFile: '--ca-token-file', pluginDir: '--ca-plugin-dir' }[err.input] : 'CA';
          throw new UserError(`${flag}: ${(err as Error).message}`);
        }
        ca.onTrustBundle((b) => builder.setSecrets([trustBundleSecret(b)]));
        registerCaAdminRoutes(admin, ca.ca);
      }
      // --- rollouts (issue 8): the overlay goes into every update; state in <state-dir>/state/rollouts.json.
      if (opts.prometheus) {
        try {
          const u = new URL(opts.prometheus);
          if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
        } catch {
          throw new UserError(`--prometheus: "${opts.prometheus}" is not an http(s) URL`);
        }
      }
      const flags = await rolloutFlags(opts).catch((err: Error) => {
        throw new UserError(err.message);
      });
      let lastUpdate: { inputs: Parameters<Parameters<typeof wireRollouts>[0]['update']>[0]; id: string } | undefined;
      const withKube = (inputs: NonNullable<typeof lastUpdate>['inputs']) => (kube ? { ...inputs, index: kube.index(inputs.config, inputs.index) } : inputs);
      const rollouts = await wireRollouts({ admin, stateDir: opts.stateDir, sources: specs, update: (inputs, id) => {
          lastUpdate = { inputs, id };
          // Built in slices from the next tick; proxies get their push class by class.
          cache.update(withKube(inputs), id);
        }, ...(opts.prometheus ? { prometheus: opts.prometheus } : {}), ...flags, ...cluster?.rolloutOptions(),
        // Config canaries (issue 13): the cache's second revision for a cohort, and the server's ACK/NACK per proxy.
        canary: { setCanary: (c, inCohort) => cache.setCanary(c && { id: c.id, inputs: withKube(c.inputs) }, inCohort), affected: () => cache.affected(), proxies: () => cache.proxies(), refused: (id) => cache.status().flatMap((c) => (c.error?.revision === id ? c.error.errors : [])), subscribe: (events) => xdsEvents.subscribe(events) },
        refreshSource: (name) => void reconciler.refresh(name).catch((err: Error) => log.warn({ source: name, err: err.message }, 'cannot fetch the source after a write-back')),
        // After a restart mid-canary: the revision in force before it, from the local clone or the saved folder copy.
        loadConfig: (revisions) => reconciler.configAt(revisions) });
      // A Kubernetes change rebuilds with the config and overlay in force; a burst coalesces in the cache (the newest wins).
      kube?.on('change', () => lastUpdate && cache.update(withKube(lastUpdate.inputs), lastUpdate.id));
      // --- end rollouts
      // A restart serves the last accepted revisions at once; the first fetch goes on behind it.
      const reconciler = new Reconciler({ sources: specs, stateDir: opts.stateDir, policies, awaitFirstFetch: false, retain: () => rollouts.runner.revisionsInUse(), ...(kube ? { indexFor: (c: ConfigSet) => kube!.index(c, buildServiceIndex(c)) } : {}) });
      reconciler.registerAdmin(admin);
      if (kube) admin.setReadyCheck(() => reconciler.hasAccepted() && kube!.synced);
      if (kube) admin.route('GET', '/api/v1/clusters', () => json(200, kube!.clusters()));
      // --- dashboard (issue 14): the web UI at /, its live events, and the Git routes (commits, history, diff) it reads.
      registerRepoRoutes(admin, { stateDir: opts.stateDir, sources: specs, policies });
      const dashboard = wireDashboard(admin, { reconciler, rollouts: rollouts.runner, xdsEvents });
      // --- end dashboard
      let serving: string | undefined;
      reconciler.on('accepted', (e: AcceptedEvent) => {
        const id = e.revisions.map((r) => r.id).join(',');
        // The rollout runner serves the config with its overlay (and flushes: the sources already debounced this burst).
        void rollouts.accepted(e.config, e.revisions).catch((err) => log.error({ err: (err as Error).message }, 'rollout runner failed on an accepted revision'));
        serving = id;
        if (ca && e.config.mesh.trustDomain !== opts.trustDomain) {
          log.warn({ meshConfig: e.config.mesh.trustDomain, ca: opts.trustDomain }, 'MeshConfig trustDomain differs from --trust-domain: peers will not accept the CA\'s certificates');
        }
        log.info({ revision: id, resources: e.config.resources.length, findings: e.diagnostics.length }, 'revision accepted');
        process.stdout.write(`accepted ${id} (${e.config.resources.length} resources${e.diagnostics.length ? `, ${e.diagnostics.length} warnings/infos` : ''})\n`);
      });
      // One human-readable line per event on stdout (the JSON logs stay on stderr).
      reconciler.on('rejected', (e: RejectedEvent) => {
        const errors = e.diagnostics.filter((d) => d.severity === 'error');
        log.warn({ source: e.source, revision: e.revision, errors: errors.length }, 'revision rejected; the last accepted config keeps serving');
        process.stdout.write(`rejected ${e.revision}: ${errors.length} error(s); still serving ${serving ?? 'nothing (no revision accepted yet)'}\n${errors.slice(0, 20).map(formatDiag).join('\n')}\n`);
      });
      reconciler.on('recovered', (e: RecoveredEvent) => {
        const after = e.from === 'rejection' ? 'a rejected revision' : `${e.failures} failed fetch${e.failures === 1 ? '' : 'es'}`;
        process.stdout.write(`recovered source ${e.source}: ${e.serving ? `serving ${e.serving}` : 'fetching again'} after ${after}\n`);
      });
      reconciler.on('fetch-failed', (e: FetchFailedEvent) => {
        process.stdout.write(`fetch failed: source ${e.source}: ${e.message} (attempt ${e.consecutiveFailures}); still serving ${serving ?? 'nothing'}\n`);
      });
      reconciler.on('notice', (e: NoticeEvent) => process.stdout.write(`notice: source ${e.source}: ${e.message}\n`));

      cluster?.attach({
        ...(ca ? { onTrustBundle: (fn: (pem: string) => void) => void ca!.onTrustBundle((b) => fn(b.rootsPem.join(''))) } : {}),
        setCredentials: (byNamespace) => builder.setCredentials(byNamespace),
        runner: rollouts.runner,
        admin,
      });
      let credentialsWatcher: FSWatcher | undefined;
      if (opts.credentialsDir) {
        const dir = opts.credentialsDir;
        const load = async (): Promise<void> => {
          const { byNamespace, errors } = await readCredentialsDir(dir);
          for (const e of errors) process.stderr.write(`credentials: ${e}; left out\n`);
          builder.setCredentials(byNamespace);
          log.info({ namespaces: byNamespace.size, credentials: [...byNamespace.values()].reduce((n, l) => n + l.length, 0) }, 'gateway credentials loaded');
        };
        try {
          await load();
        } catch (err) {
          throw new UserError(`--credentials-dir: ${(err as Error).message}`);
        }
        const reload = debounce(() => void load().catch((err) => log.error({ err: (err as Error).message }, 'cannot read gateway credentials; the previous ones keep serving')));
        credentialsWatcher = watch(dir, { ignoreInitial: true });
        credentialsWatcher.on('all', () => reload.trigger());
      }

      if (xdsPort < 0 && !ca) throw new UserError('--xds-port -1 with --no-ca leaves no xDS port: keep one of them');
      let boundXds: number | undefined;
      let boundAdmin: number;
      let boundTls: number | undefined;
      // A port that cannot be bound is named by its own flag.
      const listenFor = async <T>(flag: string, bindPort: () => Promise<T>): Promise<T> => {
        try {
          return await bindPort();
        } catch (err) {
          const msg = (err as Error).message;
          const inUse = /EADDRINUSE[^\]]*?(\S+:\d+)/.exec(msg);
          throw new UserError(inUse ? `${flag}: ${inUse[1]} is already in use (another process listens there; pick another port, or 0 for a free one)` : `${flag}: ${msg}`);
        }
      };
      try {
        if (xdsPort >= 0) boundXds = await listenFor('--xds-port', () => server.listen(xdsPort, opts.xdsAddress));
        // The CSR API shares port 15012 with authenticated xDS, as istiod does; it never answers on the plaintext port.
        if (ca) boundTls = await listenFor('--tls-port', () => server.listenTls(tlsPort, opts.tlsAddress, { credentials: ca!.credentials, authenticate: streamAuthenticator(ca!.auth), allowUnauthenticated: opts.xdsAllowUnauthenticated, services: [{ definition: ca!.definition, implementation: ca!.implementation }] }));
        boundAdmin = await listenFor('--admin-port', () => admin.listen(adminPort, opts.adminAddress));
      } catch (err) {
        await server.close();
        cache.close();
        await admin.close();
        await ca?.close();
        throw err;
      }
      // From here on a fault in any component is logged and counted, and serving goes on.
      const removeFaultHandlers = installFaultHandlers({ redact });
      if (kube) {
        // Analyzers check hosts against Kubernetes too: list once before the first revision is judged.
        await kube.start(60_000).then(
          () => process.stdout.write(`kubernetes: listed ${kube!.discoveries.map((d) => d.clusterId).join(', ')}\n`),
          (err: Error) => process.stdout.write(`kubernetes: ${err.message}; still trying\n`),
        );
      }
      await reconciler.start();
      cache.flush();
      const hostPort = (host: string, p: number) => `${host.includes(':') ? `[${host}]` : host}:${p}`;
      const xdsAddr = boundXds !== undefined ? hostPort(opts.xdsAddress, boundXds) : undefined;
      const tlsAddr = boundTls !== undefined ? hostPort(opts.tlsAddress, boundTls) : undefined;
      process.stdout.write(
        [
          `meshcd serving ${specs.map((s) => (s.kind === 'dir' ? resolve(s.dir!) : `${s.name} ${safeUrl(s.url!)}#${s.ref}${s.path ? `:${s.path}` : ''}`)).join(', ')}`,
          xdsAddr ? `  xDS (ADS, plaintext gRPC): ${xdsAddr}  (anyone: config and the ROOTCA trust bundle only; no private keys, no CA)` : '  xDS (ADS, plaintext gRPC): off (--xds-port -1)',
          ...(tlsAddr
            ? [
                `  xDS + CA (TLS):            ${tlsAddr}  (proxies with a client certificate from this CA or a bearer token: their own config and their namespace's gateway credentials; CreateCertificate${opts.xdsAllowUnauthenticated ? '; without credentials: config only (--xds-allow-unauthenticated)' : ''})`,
                `                             trust bundle: GET /ca/trust-bundle.pem on the admin port; trust domain ${opts.trustDomain}${opts.caTokenFile ? '' : '; no --ca-token-file: only renewals by client certificate'}`,
              ]
            : []),
          `  admin:                     http://${opts.adminAddress}:${boundAdmin}  (/ready /metrics /api/v1/sources /debug/syncz /debug/config_dump?proxy=ID)`,
          `  dashboard:                 ${dashboard.bundled ? `http://${hostPort(opts.adminAddress, boundAdmin)}/` : 'not built (npm run build)'}`,
          ...(xdsAddr
            ? [
                `Proxyless gRPC clients (@grpc/grpc-js-xds, grpc-go): save the GRPC_XDS_BOOTSTRAP below to a file, set GRPC_XDS_BOOTSTRAP to its path and dial xds:///<host>:<port> (e.g. xds:///reviews.bookinfo.svc.cluster.local:9080). It is ${EXAMPLE_CLIENT.namespace}/${EXAMPLE_CLIENT.serviceAccount} (the example's AuthorizationPolicies allow it; edit NAMESPACE, SERVICE_ACCOUNT and the node id for another workload).`,
                ...(tlsAddr
                  ? [
                      `Its certificate provider "default" (mTLS: the example's DestinationRules are ISTIO_MUTUAL) reads the files this agent writes and renews, with TOKEN_FILE a token that --ca-token-file maps to ${EXAMPLE_CLIENT.namespace}/${EXAMPLE_CLIENT.serviceAccount}${opts.caTokenFile ? '' : ' (this serve has no --ca-token-file: restart it with one)'}:`,
                      `  ${exampleAgentCommand(tlsAddr, opts.stateDir)}`,
                    ]
                  : ['No CA (--no-ca): this bootstrap has no certificate provider, so only services without ISTIO_MUTUAL are reachable with it.']),
                JSON.stringify(grpcBootstrapExample(xdsAddr, tlsAddr ? exampleCertDir(opts.stateDir) : undefined)),
              ]
            : []),
          '',
        ].join('\n'),
      );

      await new Promise<void>((done) => {
        const stop = (sig: string) => {
          process.off('SIGINT', onInt);
          process.off('SIGTERM', onTerm);
          log.info({ signal: sig }, 'shutting down');
          void (async () => {
            await reconciler.stop();
            await kube?.stop();
            await cluster?.stop();
            rollouts.stop();
            dashboard.close();
            await credentialsWatcher?.close();
            await server.close();
            cache.close();
            await admin.close();
            await ca?.close();
            removeFaultHandlers();
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
