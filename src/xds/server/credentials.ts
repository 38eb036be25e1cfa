// Gateway credentials from a folder, for meshes without Kubernetes: the
// secrets a Gateway names with `credentialName`, laid out as Kubernetes TLS
// secrets are — `<dir>/<namespace>/<credentialName>/tls.crt`, `tls.key` and,
// for MUTUAL, `ca.crt` (served as `<credentialName>-cacert`, Istio's name).
// A certificate that does not parse or does not match its key is left out
// with an error naming the file; the others are served.

import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { XdsResource } from '../../api/types.js';
import { digestOf } from '../../config/load.js';

export interface Credentials {
  byNamespace: Map<string, XdsResource[]>;
  errors: string[];
}

async function dirs(path: string): Promise<string[]> {
  return (await readdir(path, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
}

async function optional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function secret(name: string, value: Record<string, unknown>): XdsResource {
  return { name, value, version: digestOf(value).slice(0, 16) };
}

/**
 * The SDS secrets of one credential: `name` (tls.crt + tls.key, which must
 * match) and `name-cacert` (ca.crt). Throws an error naming the bad part
 * through `where` (a file path, or a Kubernetes Secret's key).
 */
export function credentialResources(name: string, parts: { crt?: string; key?: string; ca?: string }, where: (part: 'tls.crt' | 'tls.key' | 'ca.crt') => string): XdsResource[] {
  const { crt, key, ca } = parts;
  const list: XdsResource[] = [];
  if (crt !== undefined || key !== undefined) {
    if (crt === undefined || key === undefined) throw new Error(`${where(crt === undefined ? 'tls.crt' : 'tls.key')}: missing (tls.crt and tls.key go together)`);
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(crt);
    } catch {
      throw new Error(`${where('tls.crt')}: not a PEM certificate`);
    }
    let matches = false;
    try {
      matches = cert.checkPrivateKey(createPrivateKey(key));
    } catch {
      throw new Error(`${where('tls.key')}: not a PEM private key`);
    }
    if (!matches) throw new Error(`${where('tls.key')}: does not match ${where('tls.crt')}`);
    list.push(secret(name, { name, tls_certificate: { certificate_chain: { inline_string: crt }, private_key: { inline_string: key } } }));
  }
  if (ca !== undefined) {
    try {
      new X509Certificate(ca);
    } catch {
      throw new Error(`${where('ca.crt')}: not a PEM certificate`);
    }
    list.push(secret(`${name}-cacert`, { name: `${name}-cacert`, validation_context: { trusted_ca: { inline_string: ca } } }));
  }
  return list;
}

export async function readCredentialsDir(dir: string): Promise<Credentials> {
  const byNamespace = new Map<string, XdsResource[]>();
  const errors: string[] = [];
  for (const ns of await dirs(dir)) {
    const list: XdsResource[] = [];
    for (const name of await dirs(join(dir, ns))) {
      const base = join(dir, ns, name);
      try {
        const [crt, key, ca] = await Promise.all([optional(join(base, 'tls.crt')), optional(join(base, 'tls.key')), optional(join(base, 'ca.crt'))]);
        list.push(...credentialResources(name, { ...(crt !== undefined ? { crt } : {}), ...(key !== undefined ? { key } : {}), ...(ca !== undefined ? { ca } : {}) }, (f) => join(base, f)));
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    if (list.length) byNamespace.set(ns, list);
  }
  return { byNamespace, errors };
}
