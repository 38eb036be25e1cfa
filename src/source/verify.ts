// Signed-commit verification: a commit's `gpgsig` header is a detached
// OpenPGP signature over the commit object without that header (what
// isomorphic-git's readCommit returns as `payload`). A commit is trusted only
// if the signature verifies against one of the keys in the source's keys
// file. Failures are Diagnostics (the revision is rejected), not exceptions.

import { readFile } from 'node:fs/promises';
import * as openpgp from 'openpgp';
import type { Diagnostic } from '../api/types.js';
import { SourceError } from './folder.js';

export type TrustedKeys = openpgp.PublicKey[];

export async function loadTrustedKeys(file: string): Promise<TrustedKeys> {
  let armored: string;
  try {
    armored = await readFile(file, 'utf8');
  } catch (err) {
    throw new SourceError(`verify.pgp: cannot read keys file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    const keys = await openpgp.readKeys({ armoredKeys: armored });
    return keys.map((k) => (k.isPrivate() ? k.toPublic() : k));
  } catch (err) {
    throw new SourceError(`verify.pgp: ${file} holds no readable armored public key (${(err as Error).message.split('\n')[0]})`);
  }
}

export const SIGNATURE_CODES = {
  unsigned: 'MCD3003',
  untrusted: 'MCD3004',
} as const;

/**
 * Checks `gpgsig` over `payload`. Returns undefined when a trusted key made
 * the signature, otherwise one error Diagnostic naming the commit and signer.
 */
export async function checkCommitSignature(commit: string, gpgsig: string | undefined, payload: string, keys: TrustedKeys): Promise<Diagnostic | undefined> {
  const short = commit.slice(0, 12);
  if (!gpgsig) {
    return { code: SIGNATURE_CODES.unsigned, severity: 'error', message: `commit ${commit} is not signed; this source requires commits signed by a trusted PGP key` };
  }
  if (!gpgsig.includes('BEGIN PGP SIGNATURE')) {
    return { code: SIGNATURE_CODES.untrusted, severity: 'error', message: `commit ${commit} has a non-PGP signature (SSH or X.509); this source accepts PGP signatures only` };
  }
  let signature: openpgp.Signature;
  try {
    signature = await openpgp.readSignature({ armoredSignature: gpgsig });
  } catch (err) {
    return { code: SIGNATURE_CODES.untrusted, severity: 'error', message: `commit ${short}: unreadable signature (${(err as Error).message.split('\n')[0]})` };
  }
  const signers = signature.getSigningKeyIDs().map((k) => k.toHex().toUpperCase());
  const signerText = signers.length ? `key ${signers.join(', ')}` : 'an unknown key';
  const known = keys.some((k) => signers.some((id) => k.getKeys().some((sub) => sub.getKeyID().toHex().toUpperCase() === id)));
  if (!known) {
    return { code: SIGNATURE_CODES.untrusted, severity: 'error', message: `commit ${commit} is signed by ${signerText}, which is not in the trusted keys file` };
  }
  try {
    // Git signs the raw commit bytes (binary signature); text-mode signatures
    // are canonicalised by openpgp from the same message.
    const message = await openpgp.createMessage({ binary: new TextEncoder().encode(payload) });
    const result = await openpgp.verify({ message, signature, verificationKeys: keys, expectSigned: false });
    for (const s of result.signatures) {
      try {
        await s.verified;
        return undefined;
      } catch {
        /* try the next signature packet */
      }
    }
    return { code: SIGNATURE_CODES.untrusted, severity: 'error', message: `commit ${commit}: signature by ${signerText} does not verify (content altered or key expired/revoked)` };
  } catch (err) {
    return { code: SIGNATURE_CODES.untrusted, severity: 'error', message: `commit ${commit}: signature by ${signerText} does not verify (${(err as Error).message.split('\n')[0]})` };
  }
}
