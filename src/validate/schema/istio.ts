// Istio's published CRD schemas, taken from @kubernetes-models/istio (generated
// from Istio's own crd-all.gen.yaml). The package keeps each schema as a
// module-private literal, so we read it from the installed file once and cache
// it. The installed major (2.x, Istio 1.18) is the newest that runs on Node 20;
// fields Istio added since then and that meshcd understands are patched in
// below (ISTIO_ADDITIONS), so valid current configs are not rejected.
// Imports: node:fs/node:module (read the package), ./jsonschema.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { JsonSchema } from './jsonschema.js';

const require = createRequire(import.meta.url);

export type IstioKind = 'VirtualService' | 'DestinationRule' | 'Gateway' | 'ServiceEntry' | 'WorkloadEntry' | 'Sidecar' | 'PeerAuthentication' | 'AuthorizationPolicy' | 'RequestAuthentication';

const GROUP: Record<IstioKind, string> = {
  VirtualService: 'networking.istio.io',
  DestinationRule: 'networking.istio.io',
  Gateway: 'networking.istio.io',
  ServiceEntry: 'networking.istio.io',
  WorkloadEntry: 'networking.istio.io',
  Sidecar: 'networking.istio.io',
  PeerAuthentication: 'security.istio.io',
  AuthorizationPolicy: 'security.istio.io',
  RequestAuthentication: 'security.istio.io',
};

/** Versions the package ships per group; a missing version falls back to v1beta1 (same fields, as Istio promoted them unchanged). */
const SHIPPED: Record<string, readonly string[]> = {
  'networking.istio.io': ['v1beta1', 'v1alpha3'],
  'security.istio.io': ['v1', 'v1beta1'],
};

export class SchemaSourceError extends Error {}

/** Pull the `const schema = {…};` JSON literal out of a generated model module. */
export function extractSchemaLiteral(source: string, file: string): JsonSchema {
  const marker = 'const schema = ';
  const start = source.indexOf(marker);
  if (start < 0) throw new SchemaSourceError(`${file}: no schema literal found (has the @kubernetes-models/istio layout changed?)`);
  let i = start + marker.length;
  let depth = 0;
  let inString = false;
  const begin = i;
  for (; i < source.length; i++) {
    const c = source[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}') {
      depth--;
      if (depth === 0) break;
    }
  }
  try {
    return JSON.parse(source.slice(begin, i + 1)) as JsonSchema;
  } catch (err) {
    throw new SchemaSourceError(`${file}: schema literal is not JSON: ${(err as Error).message}`);
  }
}

const cache = new Map<string, JsonSchema>();

function shippedVersion(group: string, version: string): string {
  const shipped = SHIPPED[group] ?? [];
  return shipped.includes(version) ? version : 'v1beta1';
}

/** The spec schema for an Istio kind at an apiVersion, with later Istio fields added. */
export function istioSpecSchema(kind: IstioKind, version: string): JsonSchema {
  const group = GROUP[kind];
  let v = shippedVersion(group, version);
  // PeerAuthentication is only shipped as v1beta1.
  if (kind === 'PeerAuthentication') v = 'v1beta1';
  const id = `${group}/${v}/${kind}`;
  let schema = cache.get(id);
  if (!schema) {
    let file: string;
    try {
      file = require.resolve(`@kubernetes-models/istio/${group}/${v}/${kind}`);
    } catch {
      throw new SchemaSourceError(`@kubernetes-models/istio has no schema for ${id}`);
    }
    const whole = extractSchemaLiteral(readFileSync(file, 'utf8'), file);
    const spec = whole.properties?.spec;
    if (!spec) throw new SchemaSourceError(`${file}: schema has no spec`);
    schema = applyAdditions(kind, structuredClone(spec));
    cache.set(id, schema);
  }
  return schema;
}

// ---------------------------------------------------------------------------
// Fields added to Istio after 1.18 (the package's source), from istio/api.

const str: JsonSchema = { type: 'string' };
const percent: JsonSchema = { type: 'object', properties: { value: { type: 'number', format: 'double' } } };
const policyTargetRef: JsonSchema = {
  type: 'object',
  properties: { group: str, kind: str, name: str, namespace: str },
  required: ['kind', 'name'],
};

/** Visit every object schema below `root`. */
function eachObjectSchema(root: JsonSchema, visit: (s: JsonSchema) => void): void {
  const seen = new Set<JsonSchema>();
  const walk = (s: JsonSchema | boolean | undefined): void => {
    if (!s || typeof s !== 'object' || seen.has(s)) return;
    seen.add(s);
    if (s.properties) visit(s);
    for (const sub of Object.values(s.properties ?? {})) walk(sub);
    walk(s.items);
    walk(s.additionalProperties);
    for (const list of [s.oneOf, s.anyOf, s.allOf]) for (const sub of list ?? []) walk(sub);
    walk(s.not);
  };
  walk(root);
}

function addProps(s: JsonSchema, props: Record<string, JsonSchema>): void {
  for (const [k, v] of Object.entries(props)) if (!s.properties![k]) s.properties![k] = v;
}

function applyAdditions(kind: IstioKind, spec: JsonSchema): JsonSchema {
  eachObjectSchema(spec, (s) => {
    const p = s.properties!;
    // VirtualService HTTPRoute: mirrors (1.19); HTTPRewrite: uriRegexRewrite (1.19); CorsPolicy: unmatchedPreflights (1.23).
    if (p.mirror && p.route && p.match) {
      const dest = p.mirror;
      addProps(s, { mirrors: { type: 'array', items: { type: 'object', properties: { destination: dest, percentage: percent }, required: ['destination'] } } });
    }
    if (p.uri && p.authority && !p.scheme && !p.method && !p.redirectCode && !p.port && !p.derivePort) {
      addProps(s, { uriRegexRewrite: { type: 'object', properties: { match: str, rewrite: str } } });
    }
    if (p.allowOrigins && p.allowMethods) addProps(s, { unmatchedPreflights: { type: 'string', enum: ['UNSPECIFIED', 'FORWARD', 'IGNORE'] } });
    // DestinationRule: connectionPool.http.maxConcurrentStreams (1.21), trafficPolicy.proxyProtocol (1.21), tls.caCrl (1.19).
    if (p.http1MaxPendingRequests) addProps(s, { maxConcurrentStreams: { type: 'integer', format: 'int32' } });
    if (p.connectionPool && p.loadBalancer) addProps(s, { proxyProtocol: { type: 'object', properties: { version: { type: 'string', enum: ['V1', 'V2'] } } } });
    if ((p.clientCertificate || p.serverCertificate) && p.caCertificates) addProps(s, { caCrl: str });
    // RequestAuthentication JWTRule: fromCookies (1.21), timeout (1.22), spaceDelimitedClaims (1.25).
    if (p.issuer && p.jwksUri) addProps(s, { fromCookies: { type: 'array', items: str }, timeout: str, spaceDelimitedClaims: { type: 'array', items: str } });
    // AuthorizationPolicy Source: serviceAccounts / notServiceAccounts (1.25).
    if (p.principals && p.ipBlocks) addProps(s, { serviceAccounts: { type: 'array', items: str }, notServiceAccounts: { type: 'array', items: str } });
    // DestinationRule: loadBalancer.warmup (1.27), connectionPool.http.http2KeepAlive (1.27).
    if (p.simple && p.consistentHash) addProps(s, { warmup: { type: 'object', properties: { duration: str, minimumPercent: { type: 'number' }, aggression: { type: 'number' } } } });
    if (p.http1MaxPendingRequests) addProps(s, { http2KeepAlive: { type: 'object', properties: { time: str, interval: str, timeout: str } } });
  });
  if (kind === 'AuthorizationPolicy' || kind === 'RequestAuthentication' || kind === 'PeerAuthentication') {
    // targetRef (1.20), targetRefs (1.22): policy attachment for waypoints and gateways.
    addProps(spec, { targetRef: policyTargetRef, targetRefs: { type: 'array', items: policyTargetRef } });
  }
  if (kind === 'Sidecar') {
    // inboundConnectionPool (1.22).
    const pool = istioSpecSchema('DestinationRule', 'v1beta1').properties?.trafficPolicy?.properties?.connectionPool;
    if (pool) {
      addProps(spec, { inboundConnectionPool: pool });
      // Per-port ingress connection pools (1.22).
      const ingress = spec.properties?.ingress?.items;
      if (ingress?.properties) addProps(ingress, { connectionPool: pool });
    }
  }
  return spec;
}
