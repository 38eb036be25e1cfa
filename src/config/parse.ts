// Bounded parsing of one config file (YAML, multi-document, or JSON) into
// plain documents with their line numbers. Pure: bytes in, values out.
//
// Bounds: file size, binary content, alias expansion (billion-laughs),
// nesting depth and document count. Each refusal is a Diagnostic naming the
// file (and line where there is one), never an exception.
//
// Values are read as Kubernetes reads them (sigs.k8s.io/yaml over go-yaml v2,
// what `kubectl apply` and istiod see), not as YAML 1.2 says: `yes`/`on`/`y`
// are booleans, `0755` is octal, `1_000` is a number, `190:20:30` and dates
// stay strings, and `:` ends a plain scalar only before a space, so
// `[1.2.3.4, 001:db8::]` is two strings. test/unit/config/yaml-k8s.test.ts
// checks both readers against sigs.k8s.io/yaml itself.

import { createRequire } from 'node:module';
import type * as YamlLib from 'yaml';
import type { LineCounter, Node, Document, ParseOptions, DocumentOptions, SchemaOptions } from 'yaml';
import { parseEvents, constructFromEvents } from 'js-yaml';
import type { Diagnostic } from '../api/types.js';
import { locatePlain, parsePlainYaml, plainLineOfPath, type PlainLocator } from './parse-plain.js';

// The `yaml` library is loaded on first use: plain files never need it
// (js-yaml reads them), and loading it costs each thread about 20 ms.
let yamlLib: typeof YamlLib | undefined;
export const yamlLibrary = (): typeof YamlLib => (yamlLib ??= createRequire(import.meta.url)('yaml') as typeof YamlLib);
const Y = yamlLibrary;

export interface ParseLimits {
  maxFileBytes: number;
  maxDepth: number;
  maxAliasCount: number;
  maxDocuments: number;
}

export const DEFAULT_LIMITS: ParseLimits = {
  maxFileBytes: 4 * 1024 * 1024,
  maxDepth: 64,
  maxAliasCount: 100,
  maxDocuments: 10_000,
};

export interface ParsedDocument {
  /** 1-based line where the document (or List item) starts. */
  line: number;
  value: unknown;
  /** For List items: index inside `items`. */
  listIndex?: number;
}

export interface ParsedFile {
  documents: ParsedDocument[];
  diagnostics: Diagnostic[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeText(file: string, bytes: Uint8Array, limits: ParseLimits = DEFAULT_LIMITS): { text?: string; diagnostic?: Diagnostic } {
  if (bytes.byteLength > limits.maxFileBytes) {
    return { diagnostic: fileError(file, 1, 'MCD0003', `file is ${bytes.byteLength} bytes, over the ${limits.maxFileBytes}-byte limit for a config file`) };
  }
  const probe = bytes.subarray(0, Math.min(bytes.byteLength, 8000));
  if (probe.includes(0)) {
    return { diagnostic: fileError(file, 1, 'MCD0004', 'file looks binary (contains NUL bytes); not a YAML or JSON config file') };
  }
  try {
    let text = utf8.decode(bytes);
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return { text };
  } catch {
    return { diagnostic: fileError(file, 1, 'MCD0004', 'file is not valid UTF-8 text') };
  }
}

export function parseConfigFile(file: string, bytes: Uint8Array, limits: ParseLimits = DEFAULT_LIMITS): ParsedFile {
  const decoded = decodeText(file, bytes, limits);
  if (decoded.text === undefined) return { documents: [], diagnostics: [decoded.diagnostic!] };
  return parseConfigText(file, decoded.text, limits);
}

export function parseConfigText(file: string, text: string, limits: ParseLimits = DEFAULT_LIMITS): ParsedFile {
  return parseFast(text, limits) ?? parseThorough(file, text, limits);
}

/**
 * The common case — plain YAML without anchors, no List, no error — read
 * without building the `yaml` library's document tree: the usual Kubernetes
 * shapes by parse-plain.ts, the rest by js-yaml's event parser (about four
 * times faster than the tree). Anything else returns undefined and goes the
 * thorough way, which gives located diagnostics and alias limits.
 */
export function parseFast(text: string, limits: ParseLimits): ParsedFile | undefined {
  if (FLOW_COLON.test(text)) return undefined;
  // parse-plain.ts checks each plain scalar itself for what KUBE_DIFFERS looks for.
  const plain = parsePlainYaml(text, limits.maxDepth, limits.maxDocuments);
  if (plain === undefined) return KUBE_DIFFERS.test(text) ? undefined : parseWithJsYaml(text, limits);
  for (const d of plain) if (isList(d.value)) return undefined;
  return { documents: plain, diagnostics: [] };
}

const isList = (value: unknown): value is Record<string, unknown> & { items: unknown[] } => isRecord(value) && typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items);

/** parseFast's js-yaml reader, for text that passed its checks for values Kubernetes reads differently. */
export function parseWithJsYaml(text: string, limits: ParseLimits): ParsedFile | undefined {
  let values: unknown[];
  const starts: number[] = [];
  try {
    const events = parseEvents(text, { maxDepth: limits.maxDepth });
    let expectRoot = false;
    for (const ev of events) {
      if (ev.type === 1) {
        expectRoot = true;
      } else if (expectRoot) {
        expectRoot = false;
        if (ev.type === 2 || ev.type === 3) starts.push(ev.anchorStart >= 0 ? Math.min(ev.start, ev.anchorStart) : ev.start);
        else if (ev.type === 4) starts.push(ev.valueStart);
        else return undefined;
      }
    }
    values = constructFromEvents(events, { source: text, maxAliases: 0 });
  } catch {
    return undefined;
  }
  if (values.length !== starts.length || values.length > limits.maxDocuments) return undefined;
  const lineStarts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  const documents: ParsedDocument[] = [];
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null || value === undefined) continue;
    if (isList(value)) return undefined;
    documents.push({ line: lineOf(lineStarts, starts[i]!), value });
  }
  return { documents, diagnostics: [] };
}

/**
 * Plain scalars that js-yaml's YAML 1.2 core schema reads differently from
 * go-yaml v2 (booleans y/n/yes/no/on/off, octal 0NNN, 0b binary, `_` in
 * numbers, .inf/.nan), where a key or value may start (line start, after
 * `:`, `-`, `,`, `[`, `{`): a file holding one goes the thorough way. A false
 * alarm (such a word in a comment after `:`) only costs speed.
 */
const KUBE_DIFFERS = /(?<=(?:^|[:,[{]|(?:^|[ \t])-[ \t])[ \t]*)(?:[yYnN]|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|[-+]?0[0-7_]+|[-+]?0b[01_]+|[-+]?[0-9.][0-9._]*_[0-9._]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))(?=[ \t]*(?:$|[,\]}#\r]|:[ \t\r\n]))/m;
/** A `:` right before a flow indicator: go-yaml keeps it in the scalar, YAML 1.2 starts a pair. */
const FLOW_COLON = /:[,\]}]/;

/** The `yaml` library set to go-yaml v2's reading: YAML 1.1 scalars, without sexagesimal numbers or timestamps. */
const KUBE_YAML: ParseOptions & DocumentOptions & SchemaOptions = {
  version: '1.1',
  customTags: (tags) => [
    ...tags.filter((t) => !(typeof t === 'object' && (t.format === 'TIME' || t.tag === 'tag:yaml.org,2002:timestamp'))),
    // go-yaml v2 also reads 0o-prefixed octal.
    { tag: 'tag:yaml.org,2002:int', format: 'OCT', default: true, identify: () => false, test: /^[-+]?0o[0-7_]+$/, resolve: (src: string) => (src.startsWith('-') ? -1 : 1) * parseInt(src.replace(/^[-+]?0o/, '').replace(/_/g, ''), 8) },
  ],
};

/**
 * go-yaml ends a plain scalar at `:` only before a blank, so in `[a, 001:db8::]`
 * the second item is the string `001:db8::`; YAML 1.2 (the `yaml` library) reads
 * a one-pair mapping `{001:db8:: null}`. Turn such pairs back into the string.
 */
function kubeFlowColons(doc: Document.Parsed, text: string): void {
  Y().visit(doc, {
    Map(_, map) {
      if (!map.flow || map.items.length !== 1) return;
      const pair = map.items[0]!;
      const key = pair.key as Node | null;
      const value = pair.value as Node | null;
      if (!Y().isScalar(key) || key.type !== 'PLAIN' || !key.range || (value && !(Y().isScalar(value) && value.source === '' && value.value === null))) return;
      const end = key.range[1];
      if (text[end] !== ':' || !',]}'.includes(text[end + 1] ?? '')) return;
      if (map.range && text[map.range[0]] === '{') return; // an explicit {…} mapping stays one
      const s = new (Y().Scalar)(`${key.source}:`);
      s.range = [key.range[0], end + 1, end + 1];
      return s;
    },
  });
}

/** The first number JSON cannot hold (.inf, .nan), where Kubernetes refuses the document. */
function nonFinite(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : v;
  if (Array.isArray(v)) {
    for (const x of v) {
      const r = nonFinite(x);
      if (r !== undefined) return r;
    }
  } else if (isRecord(v)) {
    for (const x of Object.values(v)) {
      const r = nonFinite(x);
      if (r !== undefined) return r;
    }
  }
  return undefined;
}

function lineOf(lineStarts: number[], offset: number): number {
  let lo = 0, hi = lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (lineStarts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

export function parseThorough(file: string, text: string, limits: ParseLimits): ParsedFile {
  const diagnostics: Diagnostic[] = [];
  const documents: ParsedDocument[] = [];
  const lineCounter = new (Y().LineCounter)();
  let docs: Document.Parsed[];
  try {
    docs = Y().parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true, ...KUBE_YAML });
  } catch (err) {
    return { documents, diagnostics: [fileError(file, 1, 'MCD0001', `cannot parse: ${errorText(err)}`)] };
  }
  if (!Array.isArray(docs)) docs = [docs];
  if (docs.length > limits.maxDocuments) {
    return { documents, diagnostics: [fileError(file, 1, 'MCD0003', `file holds ${docs.length} documents, over the limit of ${limits.maxDocuments}`)] };
  }
  for (const doc of docs) {
    const startLine = doc.contents?.range ? lineCounter.linePos(doc.contents.range[0]).line : lineCounter.linePos(doc.range[0]).line;
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const line = e.linePos?.[0]?.line ?? (e.pos ? lineCounter.linePos(e.pos[0]).line : startLine);
        diagnostics.push(fileError(file, line, 'MCD0001', `YAML syntax error: ${firstLine(e.message)}`));
      }
      continue;
    }
    if (doc.contents === null || (Y().isScalar(doc.contents) && doc.contents.value === null)) continue; // empty document
    const depth = nodeDepth(doc.contents as Node, limits.maxDepth);
    if (depth > limits.maxDepth) {
      diagnostics.push(fileError(file, startLine, 'MCD0003', `document nests deeper than ${limits.maxDepth} levels; refused`));
      continue;
    }
    let value: unknown;
    try {
      if (FLOW_COLON.test(text)) kubeFlowColons(doc, text);
      value = doc.toJS({ maxAliasCount: limits.maxAliasCount });
    } catch (err) {
      const msg = errorText(err);
      const bomb = /alias/i.test(msg);
      diagnostics.push(fileError(file, startLine, bomb ? 'MCD0003' : 'MCD0001', bomb ? `document expands too many aliases (over ${limits.maxAliasCount}); refused as a possible alias bomb` : `cannot read document: ${msg}`));
      continue;
    }
    const bad = nonFinite(value);
    if (bad !== undefined) {
      diagnostics.push(fileError(file, startLine, 'MCD0001', `document holds ${bad} (a YAML .inf or .nan), which JSON cannot represent: Kubernetes refuses it; quote it if a string is meant`));
      continue;
    }
    // Kubernetes List: unwrap items, each with its own line.
    if (isList(value) && Y().isMap(doc.contents)) {
      const itemsNode = doc.contents.get('items', true);
      value.items.forEach((item: unknown, i: number) => {
        let line = startLine;
        if (Y().isSeq(itemsNode)) {
          const n = itemsNode.items[i] as Node | undefined;
          if (n?.range) line = lineCounter.linePos(n.range[0]).line;
        }
        documents.push({ line, value: item, listIndex: i });
      });
      continue;
    }
    documents.push({ line: startLine, value });
  }
  return { documents, diagnostics };
}

/** A file read once so that many paths can be located in it: by parse-plain.ts when it is in its subset, else by `yaml`. */
export type ParsedText = { docs: Document.Parsed[]; lineCounter: LineCounter } | { plain: PlainLocator };

/** Parses a file's text once so that many paths can be located in it. */
export function parseForLocate(text: string): ParsedText | undefined {
  // The files parseFast reads with parse-plain.ts, save Lists (located by item in the yaml tree).
  if (!FLOW_COLON.test(text)) {
    const plain = locatePlain(text, DEFAULT_LIMITS.maxDepth);
    if (plain && !plain.documents.some((d) => isList(d.value))) return { plain };
  }
  const lineCounter = new (Y().LineCounter)();
  try {
    const docs = Y().parseAllDocuments(text, { lineCounter, ...KUBE_YAML });
    if (!Array.isArray(docs)) return undefined;
    if (FLOW_COLON.test(text)) for (const d of docs) kubeFlowColons(d, text);
    return { docs, lineCounter };
  } catch {
    return undefined;
  }
}

/**
 * The 1-based line of a path inside a document of a file, e.g.
 * `['spec','http',0,'route',1,'weight']`. Only used when reporting, so
 * nothing is kept in memory for the happy path.
 */
export function lineOfPath(text: string | ParsedText | undefined, docLine: number, path: readonly (string | number)[], listIndex?: number): number {
  const parsed = typeof text === 'string' ? parseForLocate(text) : text;
  if (!parsed) return docLine;
  if ('plain' in parsed) return listIndex === undefined ? plainLineOfPath(parsed.plain, docLine, path) : docLine;
  const { docs, lineCounter } = parsed;
  for (const doc of docs) {
    if (!doc.contents?.range) continue;
    const l = lineCounter.linePos(doc.contents.range[0]).line;
    const end = lineCounter.linePos(doc.contents.range[2]).line;
    let node: unknown = doc.contents;
    if (listIndex !== undefined) {
      if (!Y().isMap(node)) continue;
      const items = node.get('items', true);
      if (!Y().isSeq(items)) continue;
      node = items.items[listIndex];
      if (!node || (node as Node).range === undefined || lineCounter.linePos((node as Node).range![0]).line !== docLine) continue;
    } else if (l !== docLine && !(docLine >= l && docLine <= end)) {
      continue;
    }
    let line = docLine;
    for (const seg of path) {
      if (Y().isMap(node)) {
        const pair = node.items.find((p) => Y().isPair(p) && Y().isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        const keyNode = pair.key as Node;
        if (keyNode.range) line = lineCounter.linePos(keyNode.range[0]).line;
        node = pair.value;
      } else if (Y().isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as Node | undefined;
        if (!item) break;
        if (item.range) line = lineCounter.linePos(item.range[0]).line;
        node = item;
      } else {
        break;
      }
    }
    return line;
  }
  return docLine;
}

function nodeDepth(root: Node, limit: number): number {
  // Iterative, so a hostile document cannot overflow the stack here.
  const stack: [unknown, number][] = [[root, 1]];
  let max = 0;
  while (stack.length > 0) {
    const [n, d] = stack.pop()!;
    if (d > max) max = d;
    if (max > limit) return max;
    if (Y().isMap(n) || Y().isSeq(n)) {
      for (const item of n.items) {
        if (Y().isPair(item)) {
          if (item.value) stack.push([item.value, d + 1]);
        } else if (item) {
          stack.push([item, d + 1]);
        }
      }
    }
  }
  return max;
}

function fileError(file: string, line: number, code: string, message: string): Diagnostic {
  return { code, severity: 'error', message, origin: { file, line } };
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.trim();
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return firstLine(err.message);
  return String(err);
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
