// The Helm chart (charts/meshcd) with real helm built from its Go module:
// `helm lint`, `helm template`, the rendered objects checked, applied to the
// test API server (server-side dry run, then for real), and `meshcd serve`
// run with the chart's own arguments — `--in-cluster` included, in a mount
// namespace whose /var/run/secrets/kubernetes.io/serviceaccount holds a token
// of the chart's ServiceAccount, its CA and namespace, as a pod's would, with
// KUBERNETES_SERVICE_HOST/PORT and POD_NAMESPACE set — and so exactly the
// chart's RBAC: the API server's audit log shows every call meshcd made was
// allowed, and calls outside the chart's rules are refused.

import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { requestCertificate } from '../../src/ca/index.js';
import { buildCsr } from '../../src/ca/x509.js';
import { kubeTools, startCluster } from '../helpers/kube-cluster.js';
import { createNamespace } from '../helpers/kube-objects.js';
import { eventually, renderTemplate } from '../helpers/xds-e2e.js';

const CHART = join(process.cwd(), 'charts', 'meshcd');
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * `meshcd serve` as in a pod: its own mount namespace (unshare -m, as root)
 * with a tmpfs on /run holding the service-account files, and the pod's
 * environment. Ports 0 on 127.0.0.1; resolves with the addresses serve prints.
 */
async function startServeInPod(saFiles: string, server: string, namespace: string, args: string[]): Promise<{ tls: string; admin: string; stdout(): string; stop(): Promise<void> }> {
  const u = new URL(server);
  const script = `mount --make-rprivate / && mount -t tmpfs tmpfs /run && mkdir -p ${SA_DIR} && cp "$0"/token "$0"/ca.crt "$0"/namespace ${SA_DIR}/ && shift && exec "$@"`;
  const child = spawn('unshare', ['-m', 'sh', '-c', script, saFiles, 'x', process.execPath, join(process.cwd(), 'dist/src/cli/bin.js'), 'serve', '--xds-port', '0', '--tls-port', '0', '--admin-port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KUBERNETES_SERVICE_HOST: u.hostname, KUBERNETES_SERVICE_PORT: u.port, POD_NAMESPACE: namespace, POD_NAME: 'meshcd-0', MESHCD_LOG_LEVEL: 'warn' },
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const addr = await eventually(async () => {
    if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}:\n${out}\n${err}`);
    const tls = /xDS \+ CA \(TLS\): +(\S+)/.exec(out);
    const admin = /admin: +(http:\/\/\S+)/.exec(out);
    if (!tls || !admin) throw new Error(`serve not listening yet:\n${out}\n${err.slice(-2000)}`);
    return { tls: tls[1]!, admin: admin[1]! };
  }, 60_000, 100);
  return {
    ...addr,
    stdout: () => out + err,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
const NS = 'meshcd-system';
type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: any };

function helm(bin: string, args: string[]): { code: number | null; out: string } {
  const r = spawnSync(bin, args, { encoding: 'utf8', env: { ...process.env, HELM_CACHE_HOME: join(tmpdir(), 'meshcd-helm-cache'), HELM_CONFIG_HOME: join(tmpdir(), 'meshcd-helm-config') } });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const ROLLOUT = `apiVersion: meshcd.io/v1alpha1
kind: Rollout
metadata: {name: reviews, namespace: bookinfo}
spec:
  target: {virtualService: reviews, route: split}
  steps:
  - setWeight: 50
  - pause: {duration: 1s}
  writeBack: none
`;

test('the chart: lint, template, objects, applied to the API server; meshcd with exactly its RBAC makes only allowed calls', async (t) => {
  const tools = await kubeTools();
  const lint = helm(tools.helm, ['lint', '--strict', CHART, '--set', 'source.url=https://git.example.invalid/mesh.git']);
  t.is(lint.code, 0, lint.out);
  t.regex(lint.out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  const missing = helm(tools.helm, ['template', 'meshcd', CHART]);
  t.not(missing.code, 0);
  t.regex(missing.out, /source\.url is required/);

  const rendered = helm(tools.helm, ['template', 'meshcd', CHART, '-n', NS, '--include-crds', '--set', 'source.url=https://git.example.invalid/mesh.git', '--set', 'networkPolicy.enabled=true']);
  t.is(rendered.code, 0, rendered.out);
  const objects = parseAllDocuments(rendered.out).map((d) => d.toJS() as Obj).filter(Boolean);
  const kinds = objects.map((o) => o.kind).sort();
  t.deepEqual(kinds, ['ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'CustomResourceDefinition', 'Deployment', 'NetworkPolicy', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Service', 'ServiceAccount']);
  const byKind = (k: string) => objects.find((o) => o.kind === k)!;
  const deploy = byKind('Deployment');
  const pod = deploy.spec.template.spec;
  const container = pod.containers[0];
  t.is(deploy.spec.replicas, 2);
  t.is(pod.serviceAccountName, 'meshcd');
  t.deepEqual(container.ports.map((p: { containerPort: number }) => p.containerPort), [15010, 15012, 15014]);
  t.is(container.readinessProbe.httpGet.path, '/ready');
  t.deepEqual(pod.topologySpreadConstraints.map((c: { topologyKey: string }) => c.topologyKey), ['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
  t.true(container.securityContext.readOnlyRootFilesystem);
  t.deepEqual(byKind('Service').spec.ports.map((p: { port: number }) => p.port), [15010, 15012, 15014]);
  t.is(byKind('PodDisruptionBudget').spec.minAvailable, 1);
  t.true(objects.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata.name).includes('rollouts.meshcd.io'));
  const clusterRole = byKind('ClusterRole');
  const verbsOf = (role: Obj, resource: string) => role.rules.filter((r: { resources: string[] }) => r.resources.includes(resource)).flatMap((r: { verbs: string[] }) => r.verbs).sort();
  t.deepEqual(verbsOf(clusterRole, 'pods'), ['list', 'watch'], 'discovery only reads');
  t.deepEqual(verbsOf(clusterRole, 'secrets'), ['list', 'watch'], 'no Secret is written or read by name outside its namespace');
  t.false(JSON.stringify(clusterRole.rules).includes('"*"'), 'no wildcard');

  // Applied to the API server: a server-side dry run of everything, then for real.
  const cluster = await startCluster({ audit: true });
  t.teardown(() => cluster.stop());
  await createNamespace(cluster, NS);
  const plural: Record<string, string> = { CustomResourceDefinition: 'customresourcedefinitions', ServiceAccount: 'serviceaccounts', ClusterRole: 'clusterroles', ClusterRoleBinding: 'clusterrolebindings', Role: 'roles', RoleBinding: 'rolebindings', Deployment: 'deployments', Service: 'services', PodDisruptionBudget: 'poddisruptionbudgets', NetworkPolicy: 'networkpolicies' };
  const pathOf = (o: Obj) => `/${o.apiVersion.includes('/') ? 'apis' : 'api'}/${o.apiVersion}${o.metadata.namespace ? `/namespaces/${o.metadata.namespace}` : ''}/${plural[o.kind]}`;
  for (const dryRun of [true, false]) {
    for (const o of objects) {
      const r = await cluster.request('POST', `${pathOf(o)}${dryRun ? '?dryRun=All' : ''}`, o);
      t.is(r.status, 201, `${dryRun ? 'dry run: ' : ''}${o.kind}/${o.metadata.name}: ${JSON.stringify(r.body).slice(0, 400)}`);
    }
  }
  for (const o of objects) t.is((await cluster.request('GET', `${pathOf(o)}/${o.metadata.name}`)).status, 200, `${o.kind}/${o.metadata.name} stored`);

  // meshcd as the chart runs it, with the chart's ServiceAccount's token.
  const dir = await mkdtemp(join(tmpdir(), 'meshcd-chart-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const tr = await cluster.request('POST', `/api/v1/namespaces/${NS}/serviceaccounts/meshcd/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } });
  t.is(tr.status, 201);
  const sa = join(dir, 'serviceaccount');
  await mkdir(sa);
  await writeFile(join(sa, 'token'), tr.body.status.token, { mode: 0o600 });
  await writeFile(join(sa, 'ca.crt'), cluster.caPem);
  await writeFile(join(sa, 'namespace'), NS);
  for (const ns of ['bookinfo', 'apps']) await createNamespace(cluster, ns);
  await cluster.request('POST', '/api/v1/namespaces/bookinfo/serviceaccounts', { metadata: { name: 'reviews' } });
  const meshDir = join(dir, 'mesh');
  await mkdir(meshDir);
  await writeFile(join(meshDir, 'mesh.yaml'), await renderTemplate('mesh.yaml.tmpl', { P_V1: 1, P_V2: 2, WEIGHT_V1: 100, WEIGHT_V2: 0 }));
  await writeFile(join(meshDir, 'rollout.yaml'), ROLLOUT);
  // Only where it listens, where it keeps state and what it serves differ from the chart.
  const dropped = /^--(source|ref|path|poll-interval|state-dir|(xds|tls|admin)-(address|port))(=|$)/;
  const chartArgs = (container.args as string[]).filter((a) => a !== 'serve' && !dropped.test(a));
  t.true(chartArgs.includes('--in-cluster') && chartArgs.includes('--leader-elect') && chartArgs.includes('--token-review') && chartArgs.some((a) => a.startsWith('--ca-secret=')));
  const serve = await startServeInPod(sa, cluster.server, NS, ['--source', meshDir, '--state-dir', join(dir, 'state'), ...chartArgs]);
  t.teardown(() => serve.stop());

  await eventually(async () => {
    const l = (await (await fetch(`${serve.admin}/api/v1/leader`)).json()) as { isLeader: boolean };
    if (!l.isLeader) throw new Error('not leading yet');
  }, 30_000, 200);
  await eventually(async () => {
    const r = await cluster.request('GET', '/api/v1/namespaces/apps/configmaps/istio-ca-root-cert');
    if (r.status !== 200) throw new Error(`root cert: ${r.status}`);
  }, 30_000, 200);
  const bundle = await (await fetch(`${serve.admin}/ca/trust-bundle.pem`)).text();
  const token = (await cluster.request('POST', '/api/v1/namespaces/bookinfo/serviceaccounts/reviews/token', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: ['istio-ca'], expirationSeconds: 3600 } })).body.status.token as string;
  const csrPem = buildCsr(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey, { uris: ['spiffe://cluster.local/ns/bookinfo/sa/reviews'] });
  const issued = await requestCertificate({ address: serve.tls!, caRootsPem: bundle, csrPem, token, ttlSeconds: 3600 });
  t.is(new X509Certificate(issued.certChainPem[0]!).subjectAltName, 'URI:spiffe://cluster.local/ns/bookinfo/sa/reviews');
  // A rollout runs to its end: state, status and Events written.
  await writeFile(join(meshDir, 'mesh.yaml'), await renderTemplate('mesh.yaml.tmpl', { P_V1: 1, P_V2: 2, WEIGHT_V1: 0, WEIGHT_V2: 100 }));
  await eventually(async () => {
    const r = await cluster.request('GET', '/api/v1/namespaces/bookinfo/configmaps/meshcd-rollout-reviews');
    if (r.body?.data?.phase !== 'Succeeded') throw new Error(`rollout status: ${r.status} ${r.body?.data?.phase}\n${serve.stdout().slice(-4000)}`);
  }, 30_000, 200);
  await eventually(async () => {
    const e = await cluster.request('GET', '/apis/events.k8s.io/v1/namespaces/bookinfo/events');
    if (!(e.body.items as { reason: string }[]).some((x) => x.reason === 'Succeeded')) throw new Error('no Succeeded event yet');
  }, 20_000, 200);

  // Every call meshcd made, by the audit log: none refused.
  const user = `system:serviceaccount:${NS}:meshcd`;
  const needed = ['list pods', 'watch endpointslices', 'list nodes', 'create tokenreviews', 'create leases', 'update leases', 'create secrets', 'patch configmaps', 'create events', 'list secrets'];
  // Watches are still open: they show as ResponseStarted. The Lease is renewed every 2 s.
  const calls = await eventually(async () => {
    const cs = (await cluster.auditEvents()).filter((e) => e.user.username === user && (e.stage === 'ResponseComplete' || (e.stage === 'ResponseStarted' && e.verb === 'watch')));
    const made = new Set(cs.map((e) => `${e.verb} ${e.objectRef?.resource}`));
    const absent = needed.filter((n) => !made.has(n));
    if (absent.length) throw new Error(`meshcd has not called ${absent.join(', ')}`);
    return cs;
  }, 20_000, 500);
  const summary = [...new Set(calls.map((e) => `${e.verb} ${e.objectRef?.resource ?? e.requestURI}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''} → ${e.responseStatus?.code}`))].sort();
  t.log(summary.join('\n'));
  const refused = calls.filter((e) => e.responseStatus?.code === 401 || e.responseStatus?.code === 403);
  t.deepEqual(refused.map((e) => `${e.verb} ${e.requestURI}`), [], 'meshcd made no call its RBAC refuses');

  // Calls outside the chart's rules, with the same token, are refused.
  const saToken = tr.body.status.token as string;
  for (const [method, path, body] of [
    ['DELETE', '/api/v1/namespaces/apps/pods/anything', undefined],
    ['POST', '/api/v1/namespaces/apps/secrets', { metadata: { name: 'x' } }],
    ['GET', '/api/v1/namespaces/apps/secrets/x', undefined],
    ['GET', `/api/v1/namespaces/${NS}/secrets/not-the-ca`, undefined],
    ['POST', '/apis/apps/v1/namespaces/apps/deployments', { metadata: { name: 'x' } }],
    ['PUT', '/apis/coordination.k8s.io/v1/namespaces/apps/leases/x', { metadata: { name: 'x' } }],
  ] as const) {
    const r = await cluster.request(method, path, body, saToken);
    t.is(r.status, 403, `${method} ${path}: ${r.status}`);
  }
});
