// Worker thread behind startTranslation (validate-translation.ts): load the
// files the main thread read, sharing the parsing with it (each takes files
// from a shared counter, then they trade results), and post the
// translation findings for what it loaded (the caller locates them).

import { parentPort } from 'node:worker_threads';
import type { Revision } from '../api/types.js';
import { loadRevision } from '../config/load.js';
import type { ParseLimits } from '../config/parse.js';
import { parseShare, translationFindings, type ParsedShare } from './validate-translation.js';

// Only the diagnostics are wanted here: resources' content versions are never read, so never hashed.
// Load the translation's modules while the main thread reads and parses.
const warm = import('./translator.js').then((m) => m.loadTranslator());

type Message = { files: { file: string; text: string }[]; limits: ParseLimits; counter: Int32Array } | { parsed: ParsedShare };

/** The files as a Revision: loaded here exactly as the main thread loads them. */
function textRevision(files: { file: string; text: string }[]): Revision {
  const texts = new Map(files.map((f) => [f.file, f.text]));
  const enc = new TextEncoder();
  return { source: 'dir', ref: 'dir', commit: '', id: '', paths: [...texts.keys()], read: async (p) => enc.encode(texts.get(p)), blobId: () => undefined };
}

let fromMain: (m: ParsedShare) => void = () => undefined;
const parsed = new Promise<ParsedShare>((resolve) => (fromMain = resolve));

parentPort!.on('message', async (m: Message) => {
  if ('parsed' in m) return fromMain(m.parsed);
  try {
    const load = await loadRevision(textRevision(m.files), { limits: m.limits, lazyDigests: true, shareParse: (files) => parseShare(m.counter, files.length, (mine) => parentPort!.postMessage({ parsed: mine }), parsed) });
    await warm;
    parentPort!.postMessage({ diagnostics: await translationFindings(load.config) });
  } catch (err) {
    parentPort!.postMessage({ error: (err as Error).message });
  }
  parentPort!.close(); // the last job: let the thread end
});
