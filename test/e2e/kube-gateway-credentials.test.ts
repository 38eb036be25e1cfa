// Issue 12: `meshcd serve --gateway-secrets` against a real API server sees
// the kubernetes.io/tls Secrets it serves over SDS, and its analyzers check a
// Gateway's credentialName against them as Istio's gateway SecretAnalyzer
// does: IST0101 for a name no Secret has in the gateway workload's namespace,
// IST0161 for an expired certificate, nothing for a current one. serve shows
// an accepted revision's warnings only as a count, so the revision also holds
// one error (a route to an unknown host): the rejected revision's findings,
// warnings included, are in GET /api/v1/sources.

import test from 'ava';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Diagnostic } from '../../src/api/types.js';
import { startCluster } from '../helpers/kube-cluster.js';
import { createNamespace } from '../helpers/kube-objects.js';
import { eventually, startServe } from '../helpers/xds-e2e.js';
import { certificate } from '../unit/registry/_certs.js';

const MESH = `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ingress, namespace: istio-system}
spec: {address: 10.0.0.2, labels: {istio: ingressgateway}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: web, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https-a, protocol: HTTPS}
    hosts: [a.example.com]
    tls: {mode: SIMPLE, credentialName: current}
  - port: {number: 8443, name: https-b, protocol: HTTPS}
    hosts: [b.example.com]
    tls: {mode: SIMPLE, credentialName: expired}
  - port: {number: 9443, name: https-c, protocol: HTTPS}
    hosts: [c.example.com]
    tls: {mode: SIMPLE, credentialName: missing}
`;
/** A route to a host nobody defines (IST0101, an error): the revision is rejected and its findings shown. `n` makes each write a new revision. */
const ERROR = (n: number) => `# revision ${n}
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: shop}
spec:
  hosts: [a.example.com]
  gateways: [web]
  http: [{route: [{destination: {host: nowhere.shop.svc.cluster.local}}]}]
`;

test('serve --gateway-secrets: credentialName checked against the cluster\'s TLS Secrets (IST0101, IST0161 as Istio)', async (t) => {
  const cluster = await startCluster();
  t.teardown(() => cluster.stop());
  const dir = await mkdtemp(join(tmpdir(), 'meshcd-kube-gwcred-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await createNamespace(cluster, 'istio-system');
  for (const [name, c] of [['current', certificate(-1, 30, Date.now())], ['expired', certificate(-30, -1, Date.now())]] as const) {
    const data = { 'tls.crt': Buffer.from(c.crt).toString('base64'), 'tls.key': Buffer.from(c.key).toString('base64') };
    const r = await cluster.request('POST', '/api/v1/namespaces/istio-system/secrets', { metadata: { name }, type: 'kubernetes.io/tls', data });
    t.is(r.status, 201, JSON.stringify(r.body));
  }
  const src = join(dir, 'mesh');
  await mkdir(src);
  await writeFile(join(src, 'mesh.yaml'), MESH);
  await writeFile(join(src, 'error.yaml'), ERROR(0));
  const serve = await startServe(src, ['--state-dir', join(dir, 'state'), '--kubeconfig', cluster.kubeconfig, '--namespace', 'istio-system', '--gateway-secrets']);
  t.teardown(() => serve.stop());

  // Before the Secrets are listed nothing is said about them; once they are, the next revision is checked against them.
  let n = 0;
  const findings = await eventually(async () => {
    await writeFile(join(src, 'error.yaml'), ERROR(++n));
    await new Promise((r) => setTimeout(r, 500));
    const body = (await (await fetch(`${serve.admin}/api/v1/sources`)).json()) as { sources: { lastRejected?: { diagnostics: Diagnostic[] } }[] };
    const diags = body.sources[0]?.lastRejected?.diagnostics ?? [];
    const gateway = diags.filter((d) => d.resource === 'Gateway/shop/web' && (d.code === 'IST0101' || d.code === 'IST0161'));
    if (gateway.length === 0) throw new Error(`no credentialName findings yet: ${JSON.stringify(diags.map((d) => d.code))}\n${serve.stderr()}`);
    return gateway;
  }, 60_000, 1000);
  t.deepEqual(
    findings.map((d) => [d.code, d.severity, `${d.origin?.file}:${d.origin?.line}`, d.path, d.message]),
    [
      ['IST0161', 'warning', 'mesh.yaml:17', 'spec.servers[1].tls.credentialName', 'The credential referenced by the Gateway web in namespace istio-system is invalid, which can cause the traffic not to work as expected.'],
      ['IST0101', 'warning', 'mesh.yaml:20', 'spec.servers[2].tls.credentialName', 'Referenced credentialName not found: "missing"'],
    ],
  );
});
