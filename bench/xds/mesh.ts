// The meshes bench/xds/scale.ts serves, as Istio YAML files that meshcd and
// istiod both read from a folder. One file per service (ServiceEntry,
// DestinationRule, VirtualService and its WorkloadEntries), one Sidecar per
// namespace in the scoped scenario, and one churn file whose
// WorkloadEntry moves between services.
//
// Scenarios:
// - realistic: every proxy is a distinct workload (a WorkloadEntry with its
//   own IP, labels and service account, selected by its service's
//   ServiceEntry), Istio's default visibility (no exportTo: every service
//   visible to every proxy);
// - scoped: the same, plus one Sidecar per namespace limiting egress to
//   the namespace itself and the next one (its "dependency");
// - classes: the older bench's mesh (exportTo ".", inline endpoints,
//   proxies whose IPs are no workload's, 100 streams per connection,
//   plaintext) — it flatters a server that shares work across proxies of a
//   namespace, and is labelled as such.

import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export type Scenario = 'realistic' | 'scoped' | 'churn' | 'classes';

export interface MeshSpec {
  scenario: Scenario;
  services: number;
  proxies: number;
  namespaces: number;
  /** A gRPC service in ns0 whose one endpoint is a real echo server on 127.0.0.1:port (the proxyless clients' check). */
  probePort?: number;
}

export const PROBE_HOST = 'probe.ns0.svc.cluster.local';

export interface BenchProxy {
  index: number;
  id: string;
  namespace: string;
  serviceAccount: string;
  ip: string;
  labels: Record<string, string>;
  workload: string;
  /** The service this proxy's workload belongs to (realistic, scoped, churn). */
  service?: number;
}

export const nsName = (k: number) => `ns${k}`;
export const svcHost = (i: number, namespaces: number) => `svc${i}.${nsName(i % namespaces)}.svc.cluster.local`;
/** Distinct workload IPs 10.100.0.1, 10.100.0.2 … (j ≥ 0), never ending in .0 or .255. */
function ipOf(j: number): string {
  return `10.${100 + Math.floor(j / (254 * 256))}.${Math.floor(j / 254) % 256}.${1 + (j % 254)}`;
}

/** Workloads in the realistic meshes: every proxy is one, and every service has at least two. */
export function workloadCount(m: MeshSpec): number {
  return m.scenario === 'classes' ? 0 : Math.max(m.proxies, 2 * m.services);
}

export function proxiesOf(m: MeshSpec): BenchProxy[] {
  const out: BenchProxy[] = [];
  for (let j = 0; j < m.proxies; j++) {
    if (m.scenario === 'classes') {
      const n = nsName(j % m.namespaces);
      const ip = `10.200.${Math.floor(j / 250)}.${j % 250}`;
      out.push({ index: j, id: `sidecar~${ip}~p${j}.${n}~${n}.svc.cluster.local`, namespace: n, serviceAccount: 'default', ip, labels: {}, workload: `p${j}` });
      continue;
    }
    const s = j % m.services;
    const n = nsName(s % m.namespaces);
    const ip = ipOf(j);
    const workload = `w${j}`;
    out.push({ index: j, id: `sidecar~${ip}~${workload}.${n}~${n}.svc.cluster.local`, namespace: n, serviceAccount: `sa-${workload}`, ip, labels: { app: `svc${s}`, version: versionOf(j, m.services), workload }, workload, service: s });
  }
  return out;
}

const versionOf = (j: number, services: number) => (Math.floor(j / services) % 2 === 0 ? 'v1' : 'v2');

/** Namespaces whose services a proxy of namespace `ns` sees. */
export function visibleNamespaces(m: MeshSpec, ns: string): Set<string> | 'all' {
  if (m.scenario === 'classes') return new Set([ns]);
  if (m.scenario !== 'scoped') return 'all';
  const k = Number(ns.slice(2));
  return new Set([ns, nsName((k + 1) % m.namespaces)]);
}

/** Does a proxy of namespace `ns` see service `i`? */
export function sees(m: MeshSpec, ns: string, i: number): boolean {
  const v = visibleNamespaces(m, ns);
  return v === 'all' || v.has(nsName(i % m.namespaces));
}

function vsYaml(m: MeshSpec, i: number, w1: number, mark?: string): string {
  const n = nsName(i % m.namespaces);
  const host = svcHost(i, m.namespaces);
  const exportTo = m.scenario === 'classes' ? '\n  exportTo: ["."]' : '';
  const headers = mark ? `\n    headers: {response: {set: {x-bench-change: "${mark}"}}}` : '';
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: svc${i}, namespace: ${n}}
spec:
  hosts: [${host}]${exportTo}
  http:
  - route:
    - {destination: {host: ${host}, subset: v1}, weight: ${w1}}
    - {destination: {host: ${host}, subset: v2}, weight: ${100 - w1}}${headers}
`;
}

function workloadYaml(m: MeshSpec, j: number): string {
  const s = j % m.services;
  const n = nsName(s % m.namespaces);
  return `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: w${j}, namespace: ${n}}
spec:
  address: ${ipOf(j)}
  labels: {app: svc${s}, version: ${versionOf(j, m.services)}, workload: w${j}}
  serviceAccount: sa-w${j}
  ports: {http: 9080}
`;
}

/** svc<i>.yaml: the service, its routing and (realistic meshes) its workloads. */
export function serviceFile(m: MeshSpec, i: number, vs = vsYaml(m, i, 90)): string {
  const n = nsName(i % m.namespaces);
  const host = svcHost(i, m.namespaces);
  const docs: string[] = [];
  if (m.scenario === 'classes') {
    const a = 1 + (i % 250);
    const b = 1 + (Math.floor(i / 250) % 250);
    docs.push(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: svc${i}, namespace: ${n}}
spec:
  hosts: [${host}]
  exportTo: ["."]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  endpoints:
  - {address: 10.${b}.${a}.1, labels: {version: v1}}
  - {address: 10.${b}.${a}.2, labels: {version: v2}}
`);
  } else {
    docs.push(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: svc${i}, namespace: ${n}}
spec:
  hosts: [${host}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: svc${i}}}
`);
  }
  const exportTo = m.scenario === 'classes' ? '\n  exportTo: ["."]' : '';
  docs.push(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: svc${i}, namespace: ${n}}
spec:
  host: ${host}${exportTo}
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
`);
  docs.push(vs);
  for (let j = i; j < workloadCount(m); j += m.services) docs.push(workloadYaml(m, j));
  return docs.join('---\n');
}

function sidecarYaml(m: MeshSpec, k: number): string {
  return `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: ${nsName(k)}}
spec:
  egress:
  - hosts: ["./*", "${nsName((k + 1) % m.namespaces)}/*"]
`;
}

function probeYaml(port: number): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: probe, namespace: ns0}
spec:
  hosts: [${PROBE_HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: ${port}, name: grpc, protocol: GRPC}]
  endpoints: [{address: 127.0.0.1}]
`;
}

/** Writes the whole mesh into `dir` (created). */
export async function writeMesh(m: MeshSpec, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < m.services; i++) jobs.push(writeFile(join(dir, `svc${i}.yaml`), serviceFile(m, i)));
  if (m.probePort) jobs.push(writeFile(join(dir, 'probe.yaml'), probeYaml(m.probePort)));
  if (m.scenario === 'scoped') for (let k = 0; k < m.namespaces; k++) jobs.push(writeFile(join(dir, `sidecar-${nsName(k)}.yaml`), sidecarYaml(m, k)));
  await Promise.all(jobs);
}

/** The route change: service `i`'s VirtualService gets new weights and a response header carrying `mark` (what the clients look for). */
export async function writeRouteChange(m: MeshSpec, dir: string, i: number, mark: string): Promise<void> {
  await atomicWrite(join(dir, `svc${i}.yaml`), serviceFile(m, i, vsYaml(m, i, 50, mark)));
}

/** The mark of the n-th endpoint change: the address of the WorkloadEntry it adds. */
export const churnMark = (n: number) => `10.250.${Math.floor(n / 254) % 256}.${1 + (n % 254)}`;

/**
 * The n-th endpoint change: a new WorkloadEntry churn-n at a fresh address
 * (the mark) joins service `7n mod services`, and churn-(n − window), if
 * any, leaves. Each change is its own file, so a later change never hides
 * an earlier one.
 */
export async function writeChurn(m: MeshSpec, dir: string, n: number, window: number): Promise<{ service: number; mark: string }> {
  const service = (n * 7) % m.services;
  const mark = churnMark(n);
  const ns = nsName(service % m.namespaces);
  await atomicWrite(join(dir, `churn-${n}.yaml`), `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: churn-${n}, namespace: ${ns}}
spec:
  address: ${mark}
  labels: {app: svc${service}, version: v1}
  serviceAccount: churn
  ports: {http: 9080}
`);
  if (n > window) await rm(join(dir, `churn-${n - window}.yaml`), { force: true });
  return { service, mark };
}

/** Written beside the folder and renamed into it: a watcher never reads half a file nor a temporary name. */
async function atomicWrite(path: string, text: string): Promise<void> {
  const tmp = join(dirname(dirname(path)), `.${basename(path)}.tmp`);
  await writeFile(tmp, text);
  await rename(tmp, path);
}
