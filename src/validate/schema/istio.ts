// Istio's CRD schemas, generated from the CustomResourceDefinitions that
// istio.io/api ships (istio-crds.gen.ts, made by test/interop/istio-api/gen.sh
// at the version ISTIO_API_VERSION names). Every served version of a kind has
// its own entry, as the API server has. Fields Istio removed from its API are
// marked here (REMOVED) so that the checker can say so instead of "unknown
// field". Pure: imports only the generated bundle and ./jsonschema.

import { ISTIO_API_VERSION, ISTIO_CRDS_JSON } from './istio-crds.gen.js';
import type { JsonSchema } from './jsonschema.js';

export { ISTIO_API_VERSION };

/** The Istio kinds meshcd loads, validates and serves. */
export type IstioKind = 'VirtualService' | 'DestinationRule' | 'Gateway' | 'ServiceEntry' | 'WorkloadEntry' | 'Sidecar' | 'PeerAuthentication' | 'AuthorizationPolicy' | 'RequestAuthentication';

interface CrdBundle {
  istioApi: string;
  kinds: Record<string, { group: string; versions: Record<string, { schema: string; storage?: boolean; deprecated?: boolean }> }>;
  schemas: Record<string, JsonSchema>;
}

export class SchemaSourceError extends Error {}

let bundle: CrdBundle | undefined;
function crds(): CrdBundle {
  bundle ??= JSON.parse(ISTIO_CRDS_JSON) as CrdBundle;
  return bundle;
}

/** The API group of an Istio kind, from the CRDs. */
export function istioGroup(kind: string): string | undefined {
  return crds().kinds[kind]?.group;
}

/** Versions the CRD serves for a kind, newest first as Kubernetes orders them (v1, v1beta1, v1alpha3). */
export function servedVersions(kind: string): string[] {
  return Object.keys(crds().kinds[kind]?.versions ?? {}).sort(kubeVersionOrder);
}

/** Kubernetes' version priority: GA > beta > alpha, then by number. */
function kubeVersionOrder(a: string, b: string): number {
  const rank = (v: string) => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [0, 0, 0];
    return [m[2] === undefined ? 3 : m[2] === 'beta' ? 2 : 1, Number(m[1]), Number(m[3] ?? 0)];
  };
  const [x, y] = [rank(a), rank(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return y[i]! - x[i]!;
  return 0;
}

const prepared = new Map<string, JsonSchema>();

/** The spec schema for an Istio kind at an apiVersion's version, as the CRD serves it. */
export function istioSpecSchema(kind: IstioKind, version: string): JsonSchema {
  const b = crds();
  const k = b.kinds[kind];
  if (!k) throw new SchemaSourceError(`the generated Istio CRDs (istio.io/api ${b.istioApi}) have no ${kind}`);
  const v = k.versions[version];
  if (!v) throw new SchemaSourceError(`${k.group}/${version} does not serve ${kind} (istio.io/api ${b.istioApi} serves ${servedVersions(kind).join(', ')})`);
  let schema = prepared.get(v.schema);
  if (!schema) {
    const raw = b.schemas[v.schema];
    if (!raw) throw new SchemaSourceError(`the generated Istio CRDs lack schema ${v.schema}`);
    schema = markRemoved(kind, structuredClone(raw));
    prepared.set(v.schema, schema);
  }
  return schema;
}

// ---------------------------------------------------------------------------
// Fields Istio removed. istio.io/api keeps their names `reserved` in its
// protos (networking/v1alpha3/virtual_service.proto, sidecar.proto); the
// API server refuses them as unknown fields. Each entry says what replaced it.

type Removal = { where: (s: JsonSchema) => boolean; fields: Record<string, string> };

const has = (s: JsonSchema, ...names: string[]) => names.every((n) => s.properties?.[n] !== undefined);
const headerFields = (owner: string) =>
  Object.fromEntries(
    ['removeResponseHeaders', 'appendResponseHeaders', 'removeRequestHeaders', 'appendRequestHeaders', ...(owner === 'HTTPRoute' ? ['appendHeaders'] : [])].map((f) => [
      f,
      `was removed from Istio's ${owner} (istio.io/api keeps the name reserved); use \`headers.request\` / \`headers.response\` (set, add, remove) instead`,
    ]),
  );

const REMOVALS: Partial<Record<IstioKind, Removal[]>> = {
  VirtualService: [
    {
      // HTTPRoute
      where: (s) => has(s, 'match', 'route', 'redirect', 'rewrite'),
      fields: {
        websocketUpgrade: "was removed from Istio's HTTPRoute (Istio 1.5 and later refuse it; istio.io/api keeps the name reserved): WebSocket upgrades are allowed automatically since Istio 1.0, so delete the field",
        ...headerFields('HTTPRoute'),
      },
    },
    // HTTPRouteDestination
    { where: (s) => has(s, 'destination', 'weight', 'headers'), fields: headerFields('HTTPRouteDestination') },
    // TLSMatchAttributes
    { where: (s) => has(s, 'sniHosts', 'destinationSubnets'), fields: { sourceSubnet: "was removed from Istio's TLSMatchAttributes (istio.io/api keeps the name reserved); match the client with `sourceLabels` or an AuthorizationPolicy" } },
    // HTTPFaultInjection.Abort
    { where: (s) => has(s, 'httpStatus', 'percentage'), fields: { percent: 'was removed from Istio\'s fault abort (istio.io/api keeps the name reserved); use `percentage: {value: N}`' } },
    // PortSelector
    { where: (s) => has(s, 'number') && Object.keys(s.properties ?? {}).length === 1, fields: { name: "was removed from Istio's PortSelector (istio.io/api keeps the name reserved); select the port by `number`" } },
  ],
  Sidecar: [
    { where: (s) => has(s, 'egress', 'ingress'), fields: { localhost: "was removed from Istio's Sidecar (istio.io/api keeps the name reserved)" } },
    { where: (s) => has(s, 'port', 'defaultEndpoint'), fields: { localhostClientTls: "was removed from Istio's IstioIngressListener (istio.io/api keeps the name reserved); use `tls`" } },
    { where: (s) => has(s, 'hosts', 'captureMode') && !has(s, 'defaultEndpoint'), fields: { localhostServerTls: "was removed from Istio's IstioEgressListener (istio.io/api keeps the name reserved)" } },
  ],
};

function markRemoved(kind: IstioKind, spec: JsonSchema): JsonSchema {
  const removals = REMOVALS[kind];
  if (!removals) return spec;
  const seen = new Set<JsonSchema>();
  const walk = (s: JsonSchema | boolean | undefined): void => {
    if (!s || typeof s !== 'object' || seen.has(s)) return;
    seen.add(s);
    if (s.properties) for (const r of removals) if (r.where(s)) s['x-meshcd-removed'] = { ...s['x-meshcd-removed'], ...r.fields };
    for (const sub of Object.values(s.properties ?? {})) walk(sub);
    walk(s.items);
    walk(s.additionalProperties);
    for (const list of [s.oneOf, s.anyOf, s.allOf]) for (const sub of list ?? []) walk(sub);
  };
  walk(spec);
  return spec;
}
