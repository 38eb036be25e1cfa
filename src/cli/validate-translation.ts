// The translation step of `meshcd validate`: what `serve` and `diff` would
// report from translating a config (MCD4xxx), and the worker thread that
// computes it beside the validation, on the second core. The worker starts
// (and loads its modules) while the folder is read; then both threads load
// the same files, taking them one at a time from a shared counter and
// trading what they parsed, so each builds the same ConfigSet without
// copying resources across; the worker translates its copy while the main
// thread validates. The caller ends it as soon as the schema and rule
// layers find an error (serve translates only an accepted revision) and
// otherwise uses its findings.

import { Worker } from 'node:worker_threads';
import type { ConfigSet, Diagnostic, Origin, ProxyInfo, ResourceKey } from '../api/types.js';
import type { ParseShare } from '../config/load.js';
import type { ParsedFile, ParseLimits } from '../config/parse.js';
import { deriveProxies } from '../diff/envoy.js';
import { resolveExportTo } from '../registry/config.js';

/**
 * What `serve` and `diff` would report from translating this config (MCD4xxx:
 * what a proxy kind cannot do and how it is degraded), through the same
 * translation `meshcd diff` loads. Translated for representative proxies:
 * every Gateway's router, and a proxyless gRPC client and a sidecar in each
 * namespace of a set that sees every resource (a namespace holding resources
 * exported to fewer than all). Deduplicated by code, resource and message.
 */
export async function translationFindings(config: ConfigSet): Promise<Diagnostic[]> {
  const { loadTranslator } = await import('./translator.js');
  const t = await loadTranslator();
  if (typeof t === 'string') return [];
  const index = t.buildServiceIndex(config);
  const model = t.buildMeshModel(config, index);
  const out = new Map<string, Diagnostic>();
  for (const p of representativeProxies(config, deriveProxies(config, index))) {
    const r = t.translateWithDiagnostics ? t.translateWithDiagnostics(p, model) : { diagnostics: [] };
    for (const d of r.diagnostics) {
      const k = `${d.code}\0${d.resource ?? ''}\0${d.path ?? ''}\0${d.message}`;
      if (!out.has(k)) out.set(k, d);
    }
  }
  return [...out.values()];
}

/** Findings without an origin get the line of their path (translation names resource and path). */
export function locateFindings(diags: readonly Diagnostic[], locate: (key: ResourceKey, path: string) => Origin | undefined): Diagnostic[] {
  return diags.map((d) => {
    if (d.origin || !d.resource || !d.path) return d;
    const origin = locate(d.resource, d.path);
    return origin ? { ...d, origin } : d;
  });
}

/** Routers, plus one gRPC client and one sidecar per namespace of a cover of every resource's visibility. */
export function representativeProxies(config: ConfigSet, proxies: readonly ProxyInfo[]): ProxyInfo[] {
  const namespaces = [...new Set(proxies.filter((p) => p.kind !== 'router').map((p) => p.namespace))].sort();
  const wanted = new Set<string>();
  for (const r of config.resources) {
    const exportTo = (r.spec as { exportTo?: string[] }).exportTo;
    const seenBy = resolveExportTo(exportTo, r.metadata.namespace);
    if (seenBy.includes('*')) continue;
    if (seenBy.some((ns) => wanted.has(ns))) continue;
    const ns = seenBy.find((n) => namespaces.includes(n));
    if (ns) wanted.add(ns);
  }
  if (wanted.size === 0 && namespaces.length > 0) wanted.add(namespaces[0]!);
  const out: ProxyInfo[] = [];
  const taken = new Set<string>();
  for (const p of proxies) {
    const k = `${p.kind}|${p.namespace}`;
    if (p.kind === 'router') out.push(p);
    else if (wanted.has(p.namespace) && !taken.has(k)) {
      taken.add(k);
      out.push(p);
    }
  }
  return out;
}


export interface TranslationJob {
  /**
   * LoadOptions.shareParse for this thread: hands the files to the worker,
   * which loads them too (sharing the parsing) and translates what it loaded.
   */
  shareParse(files: { file: string; text: string }[], limits: ParseLimits): ParseShare;
  /** The findings (without origins); rejects when the worker failed (the caller may translate in-process instead). */
  result: Promise<Diagnostic[]>;
  cancel(): void;
}

/** What one thread sends the other: the files it parsed, by index. */
export type ParsedShare = [number, ParsedFile][];

/**
 * One side of a parse shared by two threads: files are taken one at a time
 * from `counter` (an Int32Array on a SharedArrayBuffer both hold), so a
 * thread that starts late or parses slower takes fewer. A side that took
 * every file does not wait for the other.
 */
export function parseShare(counter: Int32Array, total: number, send: (mine: ParsedShare) => void, receive: Promise<ParsedShare>): ParseShare {
  return {
    claim: () => {
      const i = Atomics.add(counter, 0, 1);
      return i < total ? i : -1;
    },
    async exchange(mine) {
      send([...mine]);
      return mine.size === total ? new Map() : new Map(await receive);
    },
  };
}

type Reply = { diagnostics?: Diagnostic[]; error?: string; parsed?: ParsedShare };

/** Starts a worker thread that loads the files it is handed (sharing the parse) and translates them. */
export function startTranslation(): TranslationJob {
  // A small young generation: the thread lives about a second and holds its garbage until it ends (peak RSS 304 against 320–325 MiB on the bench, no slower).
  const worker = new Worker(new URL('./validate-translation-worker.js', import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: 8 } });
  let fromWorker: (m: ParsedShare) => void = () => undefined;
  const parsed = new Promise<ParsedShare>((resolve) => (fromWorker = resolve));
  const result = new Promise<Diagnostic[]>((resolve, reject) => {
    worker.on('message', (m: Reply) => {
      if (m.parsed) fromWorker(m.parsed);
      else if (m.diagnostics) resolve(m.diagnostics);
      else reject(new Error(m.error ?? 'translation worker failed'));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`translation worker exited with code ${code}`)));
  });
  result.catch(() => undefined); // a cancelled job's rejection is nobody's business
  return {
    shareParse(files, limits) {
      const counter = new Int32Array(new SharedArrayBuffer(4));
      worker.postMessage({ files, limits, counter });
      // A failed worker answers nothing: the files it took are then parsed here.
      const theirs = Promise.race([parsed, result.then((): ParsedShare => [])]);
      theirs.catch(() => undefined); // not awaited when this thread took every file
      return parseShare(counter, files.length, (mine) => worker.postMessage({ parsed: mine }), theirs);
    },
    result,
    cancel: () => void worker.terminate(),
  };
}
