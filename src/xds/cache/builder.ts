// What the snapshot cache is given: everything between a revision's inputs
// and one proxy class's EncodedSnapshot. The cache decides when and for whom
// to build; a SnapshotBuilder decides what (the model, translation,
// diagnostics, the secrets and gateway credentials merged in, encoding and
// the consistency checks of snapshot.ts).
//
// `translatingBuilder(translator)` is the one serve uses (with
// src/xds/server/translator.ts's meshTranslator); tests give the cache a
// fake translator through it, or their own SnapshotBuilder.
// Imports: src/api, src/util, ./snapshot.

import type { ConfigSet, Diagnostic, ProxyInfo, ProxyResources, RolloutOverlay, ServiceIndex, TypeUrl, XdsResource } from '../../api/types.js';
import { TYPE_URL } from '../../api/types.js';
import { idOf } from '../../util/identity.js';
import { logger } from '../../util/log.js';
import { buildSnapshot, composeSnapshot, EncodeCache, type EncodedSnapshot, type SnapshotResult } from './snapshot.js';

/** What one revision is built from. */
export interface ModelInputs {
  config: ConfigSet;
  index: ServiceIndex;
  overlay?: RolloutOverlay;
}

/** One class's build under one revision. */
export interface ClassBuild {
  /** Absent when the snapshot was refused (`errors` says why). */
  snapshot?: EncodedSnapshot;
  errors?: string[];
  /** What translation left out or degraded for this class (MCD41xx …). */
  diagnostics: Diagnostic[];
}

/** A revision's shared work, done once; asked per proxy class. */
export interface PreparedRevision {
  readonly id: string;
  /** Proxies of one class get identical snapshots (under this revision). */
  classOf(proxy: ProxyInfo): string;
  /**
   * The snapshot of `proxy`'s class. `previous` is the same class's last
   * build (under an earlier revision or before an invalidation), so that
   * diagnostics are said once and unchanged work can be reused.
   */
  build(proxy: ProxyInfo, previous: ClassBuild | undefined): ClassBuild;
}

export interface SnapshotBuilder {
  /**
   * Prepare a revision (build the model once). `previous` is the revision
   * it replaces, for incremental work. Throwing refuses the revision: the
   * cache keeps serving what it has.
   */
  prepare(id: string, inputs: ModelInputs, previous: PreparedRevision | undefined): PreparedRevision;
  /**
   * Something other than a revision changed what classes get (secrets,
   * gateway credentials): the cache rebuilds every class when `fn` is
   * called. Returns the function that unregisters it.
   */
  onInvalidate?(fn: () => void): () => void;
  /** Every class the cache holds was built since the last call: drop caches nobody used. */
  settled?(): void;
}

export interface TranslateOutput {
  resources: ProxyResources;
  diagnostics?: Diagnostic[];
}

/** What translatingBuilder needs from translation (src/mesh + src/xds/translate). */
export interface Translator<M = unknown> {
  /**
   * Built once per revision. `previous` is the model of the revision this
   * one follows, so that what did not change keeps its identity and the
   * work translation memoized for it is reused.
   */
  model(inputs: ModelInputs, previous?: M): M;
  /** Two proxies with the same key get identical resources. */
  key(proxy: ProxyInfo): string;
  translate(proxy: ProxyInfo, model: M): TranslateOutput;
  /**
   * Optional: the same resources in two parts, `shared` (the same object for
   * every proxy whose outbound config is equal, under one model) and `own`.
   * The shared part is encoded and checked once and its responses are
   * prepared once for all proxies that have it.
   */
  translateParts?(proxy: ProxyInfo, model: M): { shared?: { resources: ProxyResources; diagnostics: Diagnostic[] }; own: TranslateOutput };
  /**
   * Optional: the proxy with everything translation ignores under this model
   * removed (e.g. IPs no workload uses), so that more proxies share a key.
   */
  canonical?(proxy: ProxyInfo, model: M): ProxyInfo;
}

export type CredentialPolicy = (proxy: ProxyInfo, referenced: ReadonlySet<string>, byNamespace: ReadonlyMap<string, ReadonlyMap<string, XdsResource>>) => XdsResource[];

export interface TranslatingBuilderOptions {
  /**
   * Which gateway credentials (of those set with setCredentials) go into a
   * proxy class's snapshot, given the SDS names its resources reference. The
   * decision lives with the identity checks (src/xds/server/authorize.ts,
   * `credentialsFor`); without it no credential is ever served.
   */
  authorizeCredentials?: CredentialPolicy;
}

/** Diagnostics of one class said at most this many at a time. */
const MAX_DIAGNOSTIC_LOGS = 20;

const diagKey = (d: Diagnostic) => `${d.code}|${d.resource ?? ''}|${d.message}`;

/** A Translator's model and translation, plus secrets, gateway credentials and encoding. */
export class TranslatingBuilder<M = unknown> implements SnapshotBuilder {
  private readonly log = logger('xds-build');
  private readonly encodeCache = new EncodeCache();
  private secrets = new Map<string, XdsResource>();
  /** Gateway credentials (credentialName → SDS secrets) by namespace; served only to gateways that use them. */
  private credentials = new Map<string, ReadonlyMap<string, XdsResource>>();
  private readonly invalidated = new Set<() => void>();
  private readonly models = new WeakMap<PreparedRevision, M>();
  /** Shared parts, built once per part object (translation hands the same object to every proxy of a scope). */
  private readonly sharedBuilt = new WeakMap<ProxyResources, { result: SnapshotResult; sds: () => ReadonlySet<string> }>();
  /** Classes translated (tests and the bench read it). */
  translations = 0;
  /** Of those, how many were given their last snapshot again because nothing they are built from changed. */
  reused = 0;
  /** What each build was made of (`inputsKey`), to know when the next one can be the same snapshot. */
  private readonly builtFrom = new WeakMap<ClassBuild, string>();

  constructor(private readonly translator: Translator<M>, private readonly opts: TranslatingBuilderOptions = {}) {}

  prepare(id: string, inputs: ModelInputs, previous?: PreparedRevision): PreparedRevision {
    const model = this.translator.model(inputs, previous ? this.models.get(previous) : undefined);
    const canonical = (p: ProxyInfo) => (this.translator.canonical ? this.translator.canonical(p, model) : p);
    const prepared: PreparedRevision = {
      id,
      classOf: (proxy) => this.translator.key(canonical(proxy)),
      build: (proxy, previous) => this.build(canonical(proxy), model, previous),
    };
    this.models.set(prepared, model);
    return prepared;
  }

  onInvalidate(fn: () => void): () => void {
    this.invalidated.add(fn);
    return () => this.invalidated.delete(fn);
  }

  settled(): void {
    this.encodeCache.sweep();
  }

  /** Replace the SDS secrets served to every proxy (e.g. ROOTCA from the CA's trust bundle). */
  setSecrets(secrets: XdsResource[]): void {
    this.secrets = new Map(secrets.map((s) => [s.name, s]));
    this.invalidate();
  }

  /**
   * Replace the gateway credentials (TLS certificates and keys named by a
   * Gateway's credentialName), by namespace. Which proxy classes get which
   * is the `authorizeCredentials` policy's decision.
   */
  setCredentials(byNamespace: ReadonlyMap<string, readonly XdsResource[]>): void {
    this.credentials = new Map([...byNamespace].map(([ns, list]) => [ns, new Map(list.map((s) => [s.name, s]))]));
    this.invalidate();
  }

  private invalidate(): void {
    for (const fn of [...this.invalidated]) fn();
  }

  private sharedPart(resources: ProxyResources): { result: SnapshotResult; sds: () => ReadonlySet<string> } {
    let p = this.sharedBuilt.get(resources);
    if (!p) {
      let sds: ReadonlySet<string> | undefined;
      // Only gateway credentials need the SDS names, and only when some are configured.
      this.sharedBuilt.set(resources, (p = { result: buildSnapshot(resources, this.encodeCache), sds: () => (sds ??= sdsNamesIn(resources)) }));
    }
    return p;
  }

  private build(proxy: ProxyInfo, model: M, previous: ClassBuild | undefined): ClassBuild {
    this.translations++;
    let out: TranslateOutput;
    let shared: { resources: ProxyResources; diagnostics: Diagnostic[] } | undefined;
    try {
      if (this.translator.translateParts) {
        const parts = this.translator.translateParts(proxy, model);
        shared = parts.shared;
        out = parts.own;
      } else out = this.translator.translate(proxy, model);
    } catch (err) {
      return { errors: [`translation failed: ${(err as Error).message}`], diagnostics: previous?.diagnostics ?? [] };
    }
    const diagnostics = shared ? [...shared.diagnostics, ...(out.diagnostics ?? [])] : out.diagnostics ?? [];
    const said = new Set((previous?.diagnostics ?? []).map(diagKey));
    const fresh = diagnostics.filter((d) => d.severity !== 'info' && !said.has(diagKey(d)));
    // What a client kind cannot do is said once per proxy class, not on every push.
    for (const d of fresh.slice(0, MAX_DIAGNOSTIC_LOGS)) this.log.warn({ proxyClass: proxy.kind, namespace: proxy.namespace, code: d.code, resource: d.resource, origin: d.origin }, d.message);
    let resources = out.resources;
    const sharedPart = shared ? this.sharedPart(shared.resources) : undefined;
    if (sharedPart && !sharedPart.result.snapshot) return { errors: sharedPart.result.errors, diagnostics };
    const referenced = () => (sharedPart ? new Set([...sharedPart.sds(), ...sdsNamesIn(resources)]) : sdsNamesIn(resources));
    const credentials = this.opts.authorizeCredentials && this.credentials.size ? this.opts.authorizeCredentials(proxy, referenced(), this.credentials).map((s) => [s.name, s] as const) : [];
    if (this.secrets.size || credentials.length) {
      const merged = new Map<TypeUrl, ReadonlyMap<string, XdsResource>>(resources);
      merged.set(TYPE_URL.secret, new Map([...(resources.get(TYPE_URL.secret) ?? []), ...this.secrets, ...credentials]));
      resources = merged;
    }
    // The same shared part and the same resource objects as the class's last build (translation memoizes
    // what did not change, e.g. every class an endpoint change elsewhere leaves alone): the same snapshot.
    const inputs = inputsKey(sharedPart?.result, resources);
    if (previous?.snapshot && this.builtFrom.get(previous) === inputs) {
      const again: ClassBuild = { snapshot: previous.snapshot, diagnostics };
      this.builtFrom.set(again, inputs);
      this.reused++;
      return again;
    }
    const res = sharedPart ? composeSnapshot(sharedPart.result.snapshot!, resources, this.encodeCache) : buildSnapshot(resources, this.encodeCache);
    if (!res.snapshot) return { errors: res.errors, diagnostics };
    if (res.warnings.length) this.log.debug({ proxy: proxy.id, warnings: res.warnings.slice(0, 5) }, 'snapshot warnings');
    const built: ClassBuild = { snapshot: res.snapshot, diagnostics };
    this.builtFrom.set(built, inputs);
    return built;
  }
}

/** The builder serve uses: a Translator plus secrets, credentials and encoding. */
export function translatingBuilder<M>(translator: Translator<M>, opts: TranslatingBuilderOptions = {}): TranslatingBuilder<M> {
  return new TranslatingBuilder(translator, opts);
}

/**
 * A class build's inputs by identity: its shared part (built once per
 * translated outbound object) and each of its own resources (secrets and
 * credentials included), by type and name. Resources are never changed
 * after translation made them, so the same objects encode to the same
 * snapshot.
 */
function inputsKey(shared: SnapshotResult | undefined, own: ProxyResources): string {
  const parts: (string | number)[] = [idOf(shared)];
  for (const [t, m] of own) {
    parts.push(t);
    for (const [name, r] of m) parts.push(name, idOf(r));
  }
  return parts.join('\0');
}

/** Names of the SDS secrets a proxy's listeners and clusters reference (`…sds_secret_config(s)`). */
export function sdsNamesIn(resources: ProxyResources): Set<string> {
  const names = new Set<string>();
  const walk = (v: unknown, underSds: boolean): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x, underSds);
    } else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (underSds && typeof o.name === 'string') names.add(o.name);
      for (const [k, x] of Object.entries(o)) walk(x, /sds_secret_configs?$/.test(k));
    }
  };
  for (const t of [TYPE_URL.listener, TYPE_URL.cluster]) for (const r of resources.get(t)?.values() ?? []) walk(r.value, false);
  return names;
}
