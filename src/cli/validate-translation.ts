// The translation step of `meshcd validate`: what `serve` and `diff` would
// report from translating a config (MCD4xxx), and the worker thread that
// computes it beside the validation, on the second core. The worker starts
// (and loads its modules) while the folder is read, parses about half of the
// files while the main thread parses the rest, receives the loaded
// resources, and translates while the main thread validates; the caller ends
// it as soon as the schema and rule layers find an error (serve translates
// only an accepted revision) and otherwise uses its findings.

import { Worker } from 'node:worker_threads';
import type { AnyResource, ConfigSet, Diagnostic, MeshSettings, Origin, ProxyInfo, ResourceKey } from '../api/types.js';
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
  const { loadTranslator } = await import('./diff.js');
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
   * Parses some of the files on the worker (LoadOptions.parseElsewhere): it
   * takes about half of them, by size, and parses them while this thread
   * parses the rest.
   */
  parse(files: { file: string; text: string }[], limits: ParseLimits): Map<string, Promise<ParsedFile>>;
  /** Hands the loaded resources over; translation starts. */
  translate(resources: readonly AnyResource[], mesh: MeshSettings): void;
  /** The findings (without origins); rejects when the worker failed (the caller may translate in-process instead). */
  result: Promise<Diagnostic[]>;
  cancel(): void;
}

/** The worker's share of the parsing: the last files whose sizes add up to about half. */
export function workerShare(files: readonly { file: string; text: string }[]): { file: string; text: string }[] {
  const total = files.reduce((n, f) => n + f.text.length, 0);
  let taken = 0;
  let i = files.length;
  while (i > 0 && taken + files[i - 1]!.text.length <= total / 2) taken += files[--i]!.text.length;
  return files.slice(i);
}

type Reply = { diagnostics?: Diagnostic[]; error?: string; parsed?: (ParsedFile & { file: string })[]; parseError?: string };

/** Starts a worker thread that parses the files and translates the resources it is handed. */
export function startTranslation(): TranslationJob {
  const worker = new Worker(new URL('./validate-translation-worker.js', import.meta.url));
  let parsed: ((r: Reply) => void) | undefined;
  const result = new Promise<Diagnostic[]>((resolve, reject) => {
    worker.on('message', (m: Reply) => {
      if (m.parsed || m.parseError !== undefined) parsed?.(m);
      else if (m.diagnostics) resolve(m.diagnostics);
      else reject(new Error(m.error ?? 'translation worker failed'));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`translation worker exited with code ${code}`)));
  });
  result.catch(() => undefined); // a cancelled job's rejection is nobody's business
  return {
    parse(files, limits) {
      const share = workerShare(files);
      const batch = new Promise<Map<string, ParsedFile>>((resolve, reject) => {
        parsed = (m) => (m.parsed ? resolve(new Map(m.parsed.map(({ file, documents, diagnostics }) => [file, { documents, diagnostics }]))) : reject(new Error(m.parseError)));
        result.catch((err: Error) => reject(err));
      });
      batch.catch(() => undefined); // each file's promise below carries the failure; the loader then parses that file itself
      worker.postMessage({ parse: share, limits });
      return new Map(share.map(({ file }) => [file, batch.then((m) => m.get(file)!)]));
    },
    translate: (resources, mesh) => worker.postMessage({ resources, mesh }),
    result,
    cancel: () => void worker.terminate(),
  };
}
