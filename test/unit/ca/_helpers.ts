// Shared by the CA tests: temp dirs, openssl, key pairs.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tempDir(prefix = 'meshcd-ca-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function ecKey(): { privateKey: KeyObject; publicKey: KeyObject; keyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, publicKey, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/** Runs `openssl verify` and returns its output; throws (with stderr) when the chain does not verify. */
export function opensslVerify(dir: string, rootsPem: string, chainPem: string[], leafPem: string): string {
  const roots = join(dir, `roots-${Math.random().toString(36).slice(2)}.pem`);
  const leaf = `${roots}.leaf`;
  writeFileSync(roots, rootsPem);
  writeFileSync(leaf, leafPem);
  const args = ['verify', '-CAfile', roots];
  if (chainPem.length) {
    const untrusted = `${roots}.chain`;
    writeFileSync(untrusted, chainPem.join(''));
    args.push('-untrusted', untrusted);
  }
  args.push(leaf);
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function openssl(args: string[], cwd: string): string {
  return execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function opensslText(certPem: string): string {
  return execFileSync('openssl', ['x509', '-noout', '-text'], { input: certPem, encoding: 'utf8' });
}

/** An organisation root and an intermediate under it, made with openssl, in Istio's plug-in file layout. */
export function makePluginCa(dir: string, opts: { rootName?: string } = {}): void {
  const ext = join(dir, 'ext.cnf');
  writeFileSync(ext, [
    '[req]', 'distinguished_name=dn', '[dn]',
    '[v3_ca]', 'basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature', 'subjectKeyIdentifier=hash',
    '[v3_int]', 'basicConstraints=critical,CA:TRUE,pathlen:0', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature', 'subjectKeyIdentifier=hash', 'authorityKeyIdentifier=keyid',
  ].join('\n'));
  const q = (a: string[]) => openssl(a, dir);
  q(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'org-root-key.pem', '-out', 'root-cert.pem', '-days', '30', '-subj', `/O=Example Org/CN=${opts.rootName ?? 'Example Org Root'}`, '-config', ext, '-extensions', 'v3_ca']);
  q(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.csr', '-subj', '/O=Example Org/CN=meshcd intermediate', '-config', ext]);
  q(['x509', '-req', '-in', 'ca.csr', '-CA', 'root-cert.pem', '-CAkey', 'org-root-key.pem', '-CAcreateserial', '-out', 'ca-cert.pem', '-days', '20', '-extfile', ext, '-extensions', 'v3_int']);
  const fs = execFileSync('cat', ['ca-cert.pem', 'root-cert.pem'], { cwd: dir, encoding: 'utf8' });
  writeFileSync(join(dir, 'cert-chain.pem'), fs);
}
