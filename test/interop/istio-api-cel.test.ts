// The CRDs' CEL rules with a real API server as the oracle: Istio's CRDs
// (from the istio.io/api module pinned in test/interop/istio-api) installed
// in a real kube-apiserver (test/helpers/kube-cluster.ts), then every case of
// test/fixtures/validate-rules/cel/rules.yaml created with dryRun=All:
//   - the accepted spec is accepted (201),
//   - the refused one is refused (422) with exactly the field errors the
//     fixture lists, and meshcd's checkCelRules says the same words.

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { goTool, INTEROP_ROOT } from '../helpers/go-peers.js';
import { startCluster, type TestCluster } from '../helpers/kube-cluster.js';
import { checkCelRules } from '../../src/validate/schema/cel.js';
import { istioSpecSchema, type IstioKind } from '../../src/validate/schema/istio.js';
import { CEL_CASES, type CelCase } from '../helpers/cel-cases.js';

const CASES = CEL_CASES;
const MODULE = join(INTEROP_ROOT, 'istio-api');

let cluster: TestCluster | undefined;
const plural = new Map<string, string>();

test.before(async (t) => {
  t.timeout(600_000, 'building or starting kube-apiserver');
  const go = (args: string[]) => {
    const r = spawnSync(goTool(), args, { cwd: MODULE, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`go ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  go(['mod', 'download', 'istio.io/api']);
  const crdFile = join(go(['list', '-m', '-f', '{{.Dir}}', 'istio.io/api']), 'kubernetes', 'customresourcedefinitions.gen.yaml');
  cluster = await startCluster();
  for (const doc of parseAllDocuments(readFileSync(crdFile, 'utf8'))) {
    const crd = doc.toJS() as { kind?: string; metadata: { name: string }; spec: { names: { kind: string; plural: string } } } | null;
    if (crd?.kind !== 'CustomResourceDefinition') continue;
    const r = await cluster.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
    if (r.status !== 201) throw new Error(`creating ${crd.metadata.name}: ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`);
    plural.set(crd.spec.names.kind, crd.spec.names.plural);
  }
  // Established: the API server serves the kinds.
  for (const kind of new Set(CASES.map((c) => c.kind))) {
    const c = CASES.find((x) => x.kind === kind)!;
    const path = `/apis/${c.apiVersion}/namespaces/default/${plural.get(kind)}`;
    for (let i = 0; ; i++) {
      const r = await cluster.request('GET', path);
      if (r.status === 200) break;
      if (i > 240) throw new Error(`${path} not served: ${r.status}`);
      await new Promise((res) => setTimeout(res, 250));
    }
  }
});

test.after.always(async () => {
  await cluster?.stop();
});

function create(c: CelCase, spec: Record<string, unknown>, name: string) {
  const body = { apiVersion: c.apiVersion, kind: c.kind, metadata: { name, namespace: 'default' }, spec };
  return cluster!.request('POST', `/apis/${c.apiVersion}/namespaces/default/${plural.get(c.kind)}?dryRun=All&fieldValidation=Strict`, body);
}

function meshcd(c: CelCase, spec: Record<string, unknown>): string[] {
  return checkCelRules(istioSpecSchema(c.kind as IstioKind, c.apiVersion.split('/')[1]!), spec, ['spec']).map((f) => f.message);
}

test('every CEL rule case: the API server and meshcd accept and refuse the same specs, with the same words', async (t) => {
  t.timeout(300_000);
  for (const [i, c] of CASES.entries()) {
    const what = `${c.kind} ${c.note ?? c.rule.slice(0, 60)}`;
    const ok = await create(c, c.pass, `pass-${i}`);
    t.is(ok.status, 201, `${what}: the API server accepts the passing spec: ${JSON.stringify(ok.body).slice(0, 400)}`);
    t.deepEqual(meshcd(c, c.pass), [], `${what}: meshcd accepts it too`);

    const bad = await create(c, c.fail, `fail-${i}`);
    t.is(bad.status, 422, `${what}: the API server refuses the failing spec`);
    const causes = ((bad.body?.details?.causes ?? []) as { field: string; message: string }[]).map((x) => `${x.field}: ${x.message}`);
    t.deepEqual([...causes].sort(), [...c.errors].sort(), `${what}: the fixture lists the API server's errors`);
    t.deepEqual(meshcd(c, c.fail).sort(), [...causes].sort(), `${what}: meshcd reports the API server's errors`);
  }
});
