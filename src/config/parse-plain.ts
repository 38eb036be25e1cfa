// The usual shape of Kubernetes YAML read without a general YAML parser:
// block mappings and sequences, flow collections and quoted scalars that end
// on their line, plain scalars, comments and `---` between documents, each
// document a mapping. Anything else — anchors, aliases, tags, block scalars
// (`|`, `>`), a scalar or flow collection over several lines, tabs, CR,
// directives, `...`, `?` keys, a duplicate or `__proto__` key, an escape
// other than the common ones — returns undefined and js-yaml reads the file.
//
// Plain scalars are resolved by js-yaml's own core schema (one that YAML 1.1,
// so Kubernetes, reads differently passes the file on too), and the structure
// is the one js-yaml builds, so a file read here gives exactly the values and
// document lines js-yaml gives (test/unit/config/parse-plain.test.ts compares
// the two on every YAML file in the repository, on generated documents and on
// mutated copies). On the validate bench's 2,416 files it takes about a sixth
// of the time of js-yaml's event parser (README, dependencies).
//
// Pure: text in, values out.

import { CORE_SCHEMA } from 'js-yaml';

export interface PlainDocument {
  /** 1-based line of the document's first key. */
  line: number;
  value: Record<string, unknown>;
}

/** Thrown (one object, never seen outside this module) when the text leaves the subset. */
const BAIL = { bail: true };

/** Characters that make this reader pass the file on wherever they are. */
const OUTSIDE = /[\t\r\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]/;

/** Longest implicit key YAML allows on one line. */
const MAX_KEY = 1024;

const SPACE = 0x20, HASH = 0x23, DASH = 0x2d, COLON = 0x3a, DQ = 0x22, SQ = 0x27, BACKSLASH = 0x5c;
const LBRACE = 0x7b, RBRACE = 0x7d, LBRACKET = 0x5b, RBRACKET = 0x5d, COMMA = 0x2c;

/** First characters that can make a plain scalar something other than a string in the core schema. */
const MAYBE_TYPED = new Uint8Array(128);
for (const c of '~nNtTfF-+.0123456789') MAYBE_TYPED[c.charCodeAt(0)] = 1;
/** Indicators a plain scalar may not start with here (the block and flow ones, and those YAML reserves). */
const NOT_PLAIN_FIRST = new Uint8Array(128);
for (const c of '[]{},#&*!|>\'"%@`?:') NOT_PLAIN_FIRST[c.charCodeAt(0)] = 1;
/** Characters that end a plain key in block context (or make this reader give up on it). */
const KEY_STOP = new Uint8Array(128);
for (const c of ':#\'"[]{},') KEY_STOP[c.charCodeAt(0)] = 1;

/**
 * Plain scalars YAML 1.1 (go-yaml v2, so Kubernetes) reads differently from
 * the core schema: booleans y/n/yes/no/on/off, octal 0NNN, 0b binary, `_` in
 * numbers, .inf/.nan. parse.ts reads a file holding one as Kubernetes does.
 */
const YAML11_DIFFERS = /^(?:[yYnN]|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|[-+]?0[0-7_]+|[-+]?0b[01_]+|[-+]?[0-9.][0-9._]*_[0-9._]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
/** First characters of those. */
const MAYBE_DIFFERS = new Uint8Array(128);
for (const c of 'yYnNoO0123456789+-.') MAYBE_DIFFERS[c.charCodeAt(0)] = 1;

/** A plain scalar as the core schema reads it (letters start only null/Null/NULL and the booleans, five letters at most). */
function resolvePlain(source: string): unknown {
  const c = source.charCodeAt(0);
  if (c >= 128) return source;
  if (MAYBE_DIFFERS[c] === 1 && (c < 0x40 || source.length <= 3) && YAML11_DIFFERS.test(source)) throw BAIL;
  if (MAYBE_TYPED[c] !== 1 || (c > 0x40 && source.length > 5)) return source;
  return CORE_SCHEMA.resolveImplicitScalarTag(source).value;
}

/** What locatePlain keeps: per mapping the line of each key, per sequence the line of each item. */
export type PlainLines = Map<object, Record<string, number> | number[]>;

/** A file read for locating paths in it (`lineOfPath`), when it is in the subset. */
export interface PlainLocator {
  documents: PlainDocument[];
  lines: PlainLines;
}

/** The text read again keeping the line of every key and item, or undefined outside the subset. */
export function locatePlain(text: string, maxDepth: number): PlainLocator | undefined {
  const lines: PlainLines = new Map();
  const documents = read(text, maxDepth, Number.MAX_SAFE_INTEGER, lines);
  return documents && { documents, lines };
}

/** The line `path` reaches inside the document starting at `docLine` (its last key or item found), as lineOfPath gives it. */
export function plainLineOfPath(located: PlainLocator, docLine: number, path: readonly (string | number)[]): number {
  let doc: PlainDocument | undefined;
  for (const d of located.documents) if (d.line <= docLine) doc = d;
  if (!doc) return docLine;
  let node: unknown = doc.value;
  let line = docLine;
  for (const seg of path) {
    if (Array.isArray(node)) {
      if (typeof seg !== 'number' || seg < 0 || seg >= node.length) break;
      line = (located.lines.get(node) as number[])[seg]!;
      node = node[seg];
    } else if (node !== null && typeof node === 'object') {
      const key = String(seg);
      if (!Object.prototype.hasOwnProperty.call(node, key)) break;
      line = (located.lines.get(node) as Record<string, number>)[key]!;
      node = (node as Record<string, unknown>)[key];
    } else {
      break;
    }
  }
  return line;
}

/**
 * Documents (null ones left out) when the whole text is in the subset,
 * otherwise undefined. `maxDepth` bounds nesting; `maxDocuments` the count
 * of documents, empty ones included (past either the caller's parser decides).
 */
export function parsePlainYaml(text: string, maxDepth: number, maxDocuments: number): PlainDocument[] | undefined {
  return read(text, maxDepth, maxDocuments);
}

function read(text: string, maxDepth: number, maxDocuments: number, lines?: PlainLines): PlainDocument[] | undefined {
  if (OUTSIDE.test(text)) return undefined;
  try {
    return new PlainReader(text, maxDepth, lines).documents(maxDocuments);
  } catch (err) {
    if (err === BAIL) return undefined;
    throw err;
  }
}

class PlainReader {
  // One entry per line that holds something other than spaces or a comment.
  private readonly lineStart: number[] = [];
  private readonly contentStart: number[] = [];
  private readonly lineEnd: number[] = [];
  private readonly lineNumber: number[] = [];
  /** Index in the arrays above of the line being read, and the end of the current document's lines. */
  private i = 0;
  private to = 0;
  /** Where the last flow collection or scalar read inside a line ended. */
  private at = 0;

  /** `lines`: when given, the line of every key and item is kept in it (locatePlain). */
  constructor(private readonly text: string, private readonly maxDepth: number, private readonly lines?: PlainLines) {}

  private keyLine(obj: Record<string, unknown>, key: string, line: number): void {
    let m = this.lines!.get(obj) as Record<string, number> | undefined;
    if (!m) this.lines!.set(obj, (m = {}));
    m[key] = line;
  }

  private itemLine(arr: unknown[], line: number): void {
    let m = this.lines!.get(arr) as number[] | undefined;
    if (!m) this.lines!.set(arr, (m = []));
    m.push(line);
  }

  documents(maxDocuments: number): PlainDocument[] {
    const { text } = this;
    const docs: PlainDocument[] = [];
    let count = 0;
    let docFirst = 0;
    let lineNo = 0;
    const endDocument = () => {
      if (++count > maxDocuments) throw BAIL;
      this.i = docFirst;
      this.to = this.lineStart.length;
      if (docFirst < this.to) {
        const line = this.lineNumber[docFirst]!;
        const value = this.rootMapping();
        docs.push({ line, value });
      }
      docFirst = this.lineStart.length;
    };
    for (let start = 0; start <= text.length; ) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      lineNo++;
      let p = start;
      while (p < end && text.charCodeAt(p) === SPACE) p++;
      if (p < end && text.charCodeAt(p) !== HASH) {
        if (p === start && (text.startsWith('---', p) || text.startsWith('...', p))) {
          // `---` alone (or with a comment) separates documents; `...`, or `---` followed by content, is left to js-yaml.
          if (text.charCodeAt(p) === 0x2e || !this.onlyComment(p + 3, end)) throw BAIL;
          endDocument();
        } else if (p === start && text.charCodeAt(p) === 0x25) {
          throw BAIL; // a directive
        } else {
          this.lineStart.push(start);
          this.contentStart.push(p);
          this.lineEnd.push(end);
          this.lineNumber.push(lineNo);
        }
      }
      start = end + 1;
    }
    endDocument();
    return docs;
  }

  /** Spaces then nothing or a comment from `p` to `end`. */
  private onlyComment(p: number, end: number): boolean {
    const { text } = this;
    if (p === end) return true;
    if (text.charCodeAt(p) !== SPACE) return false;
    while (p < end && text.charCodeAt(p) === SPACE) p++;
    return p === end || text.charCodeAt(p) === HASH;
  }

  private rootMapping(): Record<string, unknown> {
    const i = this.i;
    if (this.isDash(i)) throw BAIL;
    const value = this.mapping(this.contentStart[i]! - this.lineStart[i]!, this.contentStart[i]!, 1);
    if (this.i !== this.to) throw BAIL;
    return value;
  }

  private isDash(i: number): boolean {
    const p = this.contentStart[i]!;
    return this.text.charCodeAt(p) === DASH && (p + 1 === this.lineEnd[i] || this.text.charCodeAt(p + 1) === SPACE);
  }

  private indent(i: number): number {
    return this.contentStart[i]! - this.lineStart[i]!;
  }

  /** A node below a `key:` or `-` with nothing after it on its line: whatever starts on line `this.i`. */
  private block(depth: number): unknown {
    const i = this.i;
    const n = this.indent(i);
    if (this.isDash(i)) return this.sequence(n, depth);
    return this.mapping(n, this.contentStart[i]!, depth);
  }

  /** A block mapping whose keys are at column `n`; its first key starts at `first` on line `this.i`. */
  private mapping(n: number, first: number, depth: number): Record<string, unknown> {
    if (depth + 2 > this.maxDepth) throw BAIL;
    const { text } = this;
    const obj: Record<string, unknown> = {};
    let p = first;
    for (;;) {
      const i = this.i;
      const end = this.lineEnd[i]!;
      const colon = this.keyEnd(p, end);
      if (colon < 0) throw BAIL;
      const key = this.key(p, colon);
      if (key === '__proto__' || Object.prototype.hasOwnProperty.call(obj, key)) throw BAIL;
      if (this.lines) this.keyLine(obj, key, this.lineNumber[i]!);
      let v = colon + 1;
      while (v < end && text.charCodeAt(v) === SPACE) v++;
      let value: unknown;
      if (v === end || text.charCodeAt(v) === HASH) {
        this.i++;
        if (this.i < this.to && this.indent(this.i) > n) value = this.block(depth + 1);
        else if (this.i < this.to && this.indent(this.i) === n && this.isDash(this.i)) value = this.sequence(n, depth + 1);
        else value = null;
      } else {
        value = this.inline(v, end, depth + 1);
        this.i++;
      }
      obj[key] = value;
      if (this.i >= this.to) return obj;
      const next = this.indent(this.i);
      if (next < n) return obj;
      if (next > n || this.isDash(this.i)) throw BAIL;
      p = this.contentStart[this.i]!;
    }
  }

  /** A block sequence whose dashes are at column `n`, from line `this.i`. */
  private sequence(n: number, depth: number): unknown[] {
    if (depth + 2 > this.maxDepth) throw BAIL;
    const { text } = this;
    const arr: unknown[] = [];
    while (this.i < this.to && this.indent(this.i) === n && this.isDash(this.i)) {
      const i = this.i;
      const end = this.lineEnd[i]!;
      let p = this.contentStart[i]! + 1;
      while (p < end && text.charCodeAt(p) === SPACE) p++;
      if (p === end || text.charCodeAt(p) === HASH) {
        this.i++;
        const below = this.i < this.to && this.indent(this.i) > n;
        // An item below its dash starts on its own line (yaml's range); an empty one at the dash.
        if (this.lines) this.itemLine(arr, this.lineNumber[below ? this.i : i]!);
        arr.push(below ? this.block(depth + 1) : null);
        continue;
      }
      if (this.lines) this.itemLine(arr, this.lineNumber[i]!);
      if (text.charCodeAt(p) === DASH && (p + 1 === end || text.charCodeAt(p + 1) === SPACE)) {
        throw BAIL; // `- - x`
      } else if (this.keyEnd(p, end) >= 0) {
        arr.push(this.mapping(p - this.lineStart[i]!, p, depth + 1));
      } else {
        arr.push(this.inline(p, end, depth + 1));
        this.i++;
      }
    }
    if (this.i < this.to && this.indent(this.i) > n) throw BAIL;
    return arr;
  }

  /**
   * Where the `:` of a block mapping key starting at `p` is (followed by a
   * space or the end of the line), or -1 when the line does not start with
   * a key this reader takes.
   */
  private keyEnd(p: number, end: number): number {
    const { text } = this;
    const c = text.charCodeAt(p);
    if (c === DQ || c === SQ) {
      const q = this.quotedEnd(p, end);
      return q < end && text.charCodeAt(q) === COLON && (q + 1 === end || text.charCodeAt(q + 1) === SPACE) ? q : -1;
    }
    if (c < 128 && NOT_PLAIN_FIRST[c] === 1) return -1;
    if (c === DASH && text.charCodeAt(p + 1) === SPACE) return -1;
    for (let j = p + 1; j < end && j - p <= MAX_KEY; j++) {
      const d = text.charCodeAt(j);
      if (d < 128 && KEY_STOP[d] === 1) {
        if (d !== COLON || !(j + 1 === end || text.charCodeAt(j + 1) === SPACE)) return -1;
        return text.charCodeAt(j - 1) === SPACE ? -1 : j;
      }
    }
    return -1;
  }

  /** The key from `p` to its `:` at `colon`, as js-yaml names it. */
  private key(p: number, colon: number): string {
    const c = this.text.charCodeAt(p);
    if (c === DQ || c === SQ) return this.quoted(p, colon);
    const k = resolvePlain(this.text.slice(p, colon));
    return typeof k === 'string' ? k : String(k);
  }

  /** A value that ends on its line: a flow collection, a quoted or a plain scalar, then at most a comment. */
  private inline(p: number, end: number, depth: number): unknown {
    const { text } = this;
    const c = text.charCodeAt(p);
    let value: unknown;
    if (c === LBRACE || c === LBRACKET) {
      value = this.flow(p, end, depth);
    } else if (c === DQ || c === SQ) {
      value = this.quoted(p, end);
    } else {
      if ((c < 128 && NOT_PLAIN_FIRST[c] === 1) || (c === DASH && text.charCodeAt(p + 1) === SPACE)) throw BAIL;
      // Up to a comment; `a: b: c` and `- a:b c: d` hold a mapping, and a trailing `:` makes a key: left to js-yaml.
      let stop = p + 1;
      for (; stop < end; stop++) {
        const d = text.charCodeAt(stop);
        if (d === HASH && text.charCodeAt(stop - 1) === SPACE) break;
        if (d === COLON && (stop + 1 === end || text.charCodeAt(stop + 1) === SPACE)) throw BAIL;
      }
      while (text.charCodeAt(stop - 1) === SPACE) stop--;
      return resolvePlain(text.slice(p, stop));
    }
    if (!this.onlyComment(this.at, end)) throw BAIL;
    return value;
  }

  /** The offset just past the closing quote of the scalar at `p`, or `end` when it does not close on the line. */
  private quotedEnd(p: number, end: number): number {
    const { text } = this;
    const quote = text.charCodeAt(p);
    for (let j = p + 1; j < end; j++) {
      const d = text.charCodeAt(j);
      if (quote === DQ && d === BACKSLASH) j++;
      else if (d === quote) {
        if (quote === SQ && text.charCodeAt(j + 1) === SQ) j++;
        else return j + 1;
      }
    }
    return end;
  }

  /** A quoted scalar at `p` that closes before `end`; `at` is left just after it. */
  private quoted(p: number, end: number): string {
    const { text } = this;
    const quote = text.charCodeAt(p);
    let out = '';
    let from = p + 1;
    for (let j = p + 1; j < end; j++) {
      const d = text.charCodeAt(j);
      if (d === quote) {
        if (quote === SQ && text.charCodeAt(j + 1) === SQ) {
          out += text.slice(from, j + 1);
          from = ++j + 1;
          continue;
        }
        this.at = j + 1;
        return out + text.slice(from, j);
      }
      if (quote === DQ && d === BACKSLASH) {
        out += text.slice(from, j);
        const e = text.charCodeAt(j + 1);
        if (e === 0x6e) out += '\n';
        else if (e === 0x74) out += '\t';
        else if (e === 0x72) out += '\r';
        else if (e === DQ || e === BACKSLASH || e === 0x2f) out += String.fromCharCode(e);
        else if (e === 0x75) {
          const hex = text.slice(j + 2, j + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw BAIL;
          const code = parseInt(hex, 16);
          if (code >= 0xd800 && code <= 0xdfff) throw BAIL;
          out += String.fromCharCode(code);
          j += 4;
        } else throw BAIL;
        j++;
        from = j + 1;
      }
    }
    throw BAIL; // does not close on its line
  }

  /** A flow collection at `p` that closes before `end`; `at` is left just after it. */
  private flow(p: number, end: number, depth: number): unknown {
    if (depth + 2 > this.maxDepth) throw BAIL;
    const { text } = this;
    const close = text.charCodeAt(p) === LBRACE ? RBRACE : RBRACKET;
    const isMap = close === RBRACE;
    const obj: Record<string, unknown> = {};
    const arr: unknown[] = [];
    let j = this.skip(p + 1, end);
    if (text.charCodeAt(j) === close) {
      this.at = j + 1;
      return isMap ? obj : arr;
    }
    for (;;) {
      if (isMap) {
        let key: string;
        const c = text.charCodeAt(j);
        if (c === DQ || c === SQ) {
          key = this.quoted(j, end);
          const q = this.at;
          if (text.charCodeAt(q) !== COLON) throw BAIL;
          j = q + 1;
        } else {
          const k = this.flowPlain(j, end);
          const q = this.at;
          if (text.charCodeAt(q) !== COLON || text.charCodeAt(q + 1) !== SPACE || text.charCodeAt(q - 1) === SPACE) throw BAIL;
          key = typeof k === 'string' ? k : String(k);
          j = q + 1;
        }
        if (key === '__proto__' || Object.prototype.hasOwnProperty.call(obj, key)) throw BAIL;
        j = this.skip(j, end);
        if (this.lines) this.keyLine(obj, key, this.lineNumber[this.i]!);
        obj[key] = this.flowNode(j, end, depth + 1);
        j = this.at;
      } else {
        if (this.lines) this.itemLine(arr, this.lineNumber[this.i]!);
        arr.push(this.flowNode(j, end, depth + 1));
        j = this.at;
        if (text.charCodeAt(j) === COLON) throw BAIL; // `[a: b]`
      }
      const c = text.charCodeAt(j);
      if (c === close) {
        this.at = j + 1;
        return isMap ? obj : arr;
      }
      if (c !== COMMA) throw BAIL;
      j = this.skip(j + 1, end);
      if (j >= end || text.charCodeAt(j) === close || text.charCodeAt(j) === COMMA) throw BAIL; // trailing or empty entry
    }
  }

  /** A node inside a flow collection; `at` is left after it and the spaces that follow. */
  private flowNode(j: number, end: number, depth: number): unknown {
    const c = this.text.charCodeAt(j);
    const v = c === LBRACE || c === LBRACKET ? this.flow(j, end, depth) : c === DQ || c === SQ ? this.quoted(j, end) : this.flowPlain(j, end);
    this.at = this.skip(this.at, end);
    return v;
  }

  /** A plain scalar in a flow collection: up to `,`, `]`, `}` or `: `; `at` is left at that stop (after any spaces). */
  private flowPlain(j: number, end: number): unknown {
    const { text } = this;
    const c = text.charCodeAt(j);
    if (j >= end || (c < 128 && NOT_PLAIN_FIRST[c] === 1) || (c === DASH && text.charCodeAt(j + 1) === SPACE)) throw BAIL;
    let k = j + 1;
    for (; k < end; k++) {
      const d = text.charCodeAt(k);
      if (d === COMMA || d === RBRACKET || d === RBRACE) break;
      if (d === COLON) {
        const e = text.charCodeAt(k + 1);
        if (k + 1 === end || e === SPACE) break;
        if (e === COMMA || e === RBRACKET || e === RBRACE) throw BAIL; // YAML 1.2 starts a pair here, go-yaml does not
      }
      if (d === LBRACE || d === LBRACKET || d === HASH || d === DQ || d === SQ) throw BAIL;
    }
    if (k >= end) throw BAIL; // runs to the end of the line
    let stop = k;
    while (text.charCodeAt(stop - 1) === SPACE) stop--;
    this.at = k;
    return resolvePlain(text.slice(j, stop));
  }

  private skip(j: number, end: number): number {
    while (j < end && this.text.charCodeAt(j) === SPACE) j++;
    return j;
  }
}
