// The Go semantics that Kubernetes' CEL validation rules rely on, written out
// so meshcd accepts and refuses exactly what the API server does:
//   - goParseDuration: Go's time.ParseDuration (cel-go's `duration(string)`),
//   - goParseInt:      strconv.ParseInt(s, 10, 64) (cel-go's `int(string)`),
//   - goParseURL:      net/url's Parse / ParseRequestURI, with Go's error text
//                      (k8s.io/apiserver/pkg/cel/library/urls.go: `url()`,
//                      `isURL()`, `getScheme()`, …),
//   - goQuote:         strconv.Quote, which field errors use for values.
// Ported from Go 1.26's sources (src/time/format.go, src/strconv,
// src/net/url/url.go). Pure; imports only node:net's address parser.

import { isIPv4, isIPv6 } from 'node:net';

/** A Go error: the text Go's function would return. */
export class GoError extends Error {}

const MAX_U63 = 1n << 63n;

const UNITS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

/** time.ParseDuration: nanoseconds, or a GoError with Go's message. */
export function goParseDuration(orig: string): bigint {
  let s = orig;
  let neg = false;
  const fail = (what: string): never => {
    throw new GoError(`time: ${what} ${goQuote(orig)}`);
  };
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') fail('invalid duration');
  let d = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]))) fail('invalid duration');
    // leadingInt
    let i = 0;
    let v = 0n;
    for (; i < s.length && isDigit(s[i]); i++) {
      if (v > MAX_U63 / 10n) fail('invalid duration');
      v = v * 10n + BigInt(s.charCodeAt(i) - 48);
      if (v > MAX_U63) fail('invalid duration');
    }
    const pre = i > 0;
    s = s.slice(i);
    // leadingFraction
    let f = 0n;
    let scale = 1;
    let post = false;
    if (s !== '' && s[0] === '.') {
      s = s.slice(1);
      let j = 0;
      let overflow = false;
      for (; j < s.length && isDigit(s[j]); j++) {
        if (overflow) continue;
        if (f > (MAX_U63 - 1n) / 10n) {
          overflow = true;
          continue;
        }
        const y = f * 10n + BigInt(s.charCodeAt(j) - 48);
        if (y > MAX_U63) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j > 0;
      s = s.slice(j);
    }
    if (!pre && !post) fail('invalid duration');
    let k = 0;
    for (; k < s.length; k++) if (s[k] === '.' || isDigit(s[k])) break;
    if (k === 0) fail('missing unit in duration');
    const u = s.slice(0, k);
    s = s.slice(k);
    const unit = UNITS[u];
    if (unit === undefined) fail(`unknown unit ${goQuote(u)} in duration`);
    if (v > MAX_U63 / unit!) fail('invalid duration');
    v *= unit!;
    if (f > 0n) {
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > MAX_U63) fail('invalid duration');
    }
    d += v;
    if (d > MAX_U63) fail('invalid duration');
  }
  if (neg) return -d;
  if (d > MAX_U63 - 1n) fail('invalid duration');
  return d;
}

const MIN_I64 = -(1n << 63n);
const MAX_I64 = (1n << 63n) - 1n;

/** strconv.ParseInt(s, 10, 64). */
export function goParseInt(s: string): bigint {
  const m = /^([+-]?)([0-9]+)$/.exec(s);
  if (!m) throw new GoError(`strconv.ParseInt: parsing ${goQuote(s)}: invalid syntax`);
  const n = BigInt(`${m[1] === '-' ? '-' : ''}${m[2]}`);
  if (n < MIN_I64 || n > MAX_I64) throw new GoError(`strconv.ParseInt: parsing ${goQuote(s)}: value out of range`);
  return n;
}

// ---------------------------------------------------------------------------
// strconv.Quote

/** Go's unicode.IsPrint, close enough for field errors: letters, marks, numbers, punctuation, symbols and the ASCII space. */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\v') out += '\\v';
    else if (c < 0x80) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (PRINTABLE.test(ch)) out += ch;
    else if (c >= 0xd800 && c <= 0xdfff) out += '\\ufffd';
    else if (c < 0x10000) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += `\\U${c.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

// ---------------------------------------------------------------------------
// net/url

export interface GoURL {
  scheme: string;
  opaque: string;
  /** host[:port], unescaped. */
  host: string;
  path: string;
  rawQuery: string;
}

/** Characters Go leaves unescaped in a host or zone (net/url's encoding table). */
const HOST_OK = /^[A-Za-z0-9!"$&'()*+,\-.:;<=>[\]_~]$/;
const isHex = (c: string | undefined) => c !== undefined && /^[0-9A-Fa-f]$/.test(c);

type Mode = 'path' | 'host' | 'zone' | 'userPassword' | 'fragment';

/** net/url's unescape: only its errors matter here (the value is returned for hosts). */
function unescape(s: string, mode: Mode): string {
  // Go works on bytes; a JS string's non-ASCII characters are never `%`, `+` or ASCII.
  for (let i = 0; i < s.length; ) {
    const c = s[i]!;
    if (c === '%') {
      if (i + 2 >= s.length || !isHex(s[i + 1]) || !isHex(s[i + 2])) {
        throw new GoError(`invalid URL escape ${goQuote(s.slice(i, i + 3))}`);
      }
      const v = parseInt(s.slice(i + 1, i + 3), 16);
      if (mode === 'host' && v < 0x80 && s.slice(i, i + 3) !== '%25') throw new GoError(`invalid URL escape ${goQuote(s.slice(i, i + 3))}`);
      if (mode === 'zone' && s.slice(i, i + 3) !== '%25' && v !== 0x20 && !(v >= 0x80 || HOST_OK.test(String.fromCharCode(v)))) {
        throw new GoError(`invalid URL escape ${goQuote(s.slice(i, i + 3))}`);
      }
      i += 3;
    } else {
      if ((mode === 'host' || mode === 'zone') && c.charCodeAt(0) < 0x80 && !HOST_OK.test(c)) throw new GoError(`invalid character ${goQuote(c)} in host name`);
      i++;
    }
  }
  if (!s.includes('%')) return s;
  const bytes: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%') {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...enc.encode(s[i]!));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

function getScheme(raw: string): [string, string] {
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) continue;
    if (isDigit(c) || c === '+' || c === '-' || c === '.') {
      if (i === 0) return ['', raw];
      continue;
    }
    if (c === ':') {
      if (i === 0) throw new GoError('missing protocol scheme');
      return [raw.slice(0, i), raw.slice(i + 1)];
    }
    return ['', raw];
  }
  return ['', raw];
}

function validOptionalPort(port: string): boolean {
  return port === '' || /^:[0-9]*$/.test(port);
}

function parseHost(scheme: string, host: string): string {
  const open = host.lastIndexOf('[');
  if (open > 0) throw new GoError('invalid IP-literal');
  if (open === 0) {
    const close = host.lastIndexOf(']');
    if (close < 0) throw new GoError("missing ']' in host");
    const colonPort = host.slice(close + 1);
    if (!validOptionalPort(colonPort)) throw new GoError(`invalid port ${goQuote(colonPort)} after host`);
    const port = unescape(colonPort, 'host');
    const hostname = host.slice(1, close);
    const zone = hostname.indexOf('%25');
    const name = zone >= 0 ? unescape(hostname.slice(0, zone), 'host') + unescape(hostname.slice(zone), 'zone') : unescape(hostname, 'host');
    // netip.ParseAddr: an IPv6 address, optionally with a zone; an IPv4 address is not an IP-literal.
    const bare = name.replace(/%.*$/, '');
    if (isIPv4(name)) throw new GoError('invalid IP-literal');
    if (!isIPv6(bare) || (name.includes('%') && name.endsWith('%'))) throw new GoError(`invalid host: ParseAddr(${goQuote(name)}): unable to parse IP`);
    return `[${name}]${port}`;
  }
  const i = host.indexOf(':');
  if (i !== -1) {
    // Go 1.26: strict colons for http and https (urlstrictcolons=1), the last colon for other schemes.
    const at = scheme === 'http' || scheme === 'https' ? i : host.lastIndexOf(':');
    const colonPort = host.slice(at);
    if (!validOptionalPort(colonPort)) throw new GoError(`invalid port ${goQuote(colonPort)} after host`);
  }
  return unescape(host, 'host');
}

const USERINFO_OK = /^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/;

function parseAuthority(scheme: string, authority: string): string {
  const at = authority.lastIndexOf('@');
  const host = parseHost(scheme, at < 0 ? authority : authority.slice(at + 1));
  if (at < 0) return host;
  const userinfo = authority.slice(0, at);
  if (!USERINFO_OK.test(userinfo)) throw new GoError('net/url: invalid userinfo');
  for (const part of userinfo.includes(':') ? [userinfo.slice(0, userinfo.indexOf(':')), userinfo.slice(userinfo.indexOf(':') + 1)] : [userinfo]) unescape(part, 'userPassword');
  return host;
}

function parse(raw: string, viaRequest: boolean): GoURL {
  if (/[\x00-\x1f\x7f]/.test(raw)) throw new GoError('net/url: invalid control character in URL');
  if (raw === '' && viaRequest) throw new GoError('empty url');
  const url: GoURL = { scheme: '', opaque: '', host: '', path: '', rawQuery: '' };
  if (raw === '*') {
    url.path = '*';
    return url;
  }
  let [scheme, rest] = getScheme(raw);
  url.scheme = scheme.toLowerCase();
  if (rest.endsWith('?') && rest.split('?').length === 2) rest = rest.slice(0, -1);
  else {
    const q = rest.indexOf('?');
    if (q >= 0) {
      url.rawQuery = rest.slice(q + 1);
      rest = rest.slice(0, q);
    }
  }
  if (!rest.startsWith('/')) {
    if (url.scheme !== '') {
      url.opaque = rest;
      return url;
    }
    if (viaRequest) throw new GoError('invalid URI for request');
    const slash = rest.indexOf('/');
    if ((slash < 0 ? rest : rest.slice(0, slash)).includes(':')) throw new GoError('first path segment in URL cannot contain colon');
  }
  if ((url.scheme !== '' || (!viaRequest && !rest.startsWith('///'))) && rest.startsWith('//')) {
    let authority = rest.slice(2);
    rest = '';
    const slash = authority.indexOf('/');
    if (slash >= 0) {
      rest = authority.slice(slash);
      authority = authority.slice(0, slash);
    }
    url.host = parseAuthority(url.scheme, authority);
  }
  url.path = unescape(rest, 'path');
  return url;
}

/** url.Parse (a #fragment allowed), or a GoError reading `parse "…": …`. */
export function goParseURL(raw: string): GoURL {
  const hash = raw.indexOf('#');
  const u = hash < 0 ? raw : raw.slice(0, hash);
  let url: GoURL;
  try {
    url = parse(u, false);
  } catch (err) {
    throw new GoError(`parse ${goQuote(u)}: ${(err as Error).message}`);
  }
  if (hash >= 0) {
    try {
      unescape(raw.slice(hash + 1), 'fragment');
    } catch (err) {
      throw new GoError(`parse ${goQuote(raw)}: ${(err as Error).message}`);
    }
  }
  return url;
}

/** url.ParseRequestURI: an absolute URI or an absolute path, no fragment. */
export function goParseRequestURI(raw: string): GoURL {
  try {
    return parse(raw, true);
  } catch (err) {
    throw new GoError(`parse ${goQuote(raw)}: ${(err as Error).message}`);
  }
}

/** url.URL's Hostname and Port (host without brackets; the port after the last colon). */
export function goHostname(u: GoURL): string {
  const [host] = splitHostPort(u.host);
  return host;
}

export function goPort(u: GoURL): string {
  return splitHostPort(u.host)[1];
}

function splitHostPort(hostPort: string): [string, string] {
  let host = hostPort;
  let port = '';
  const colon = host.lastIndexOf(':');
  if (colon !== -1 && validOptionalPort(host.slice(colon))) {
    port = host.slice(colon + 1);
    host = host.slice(0, colon);
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return [host, port];
}
