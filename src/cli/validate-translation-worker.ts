// Worker thread behind startTranslation (validate-translation.ts): waits for
// the loaded resources, rebuilds the ConfigSet and posts the translation
// findings (the caller locates them).

import { parentPort } from 'node:worker_threads';
import type { AnyResource, MeshSettings } from '../api/types.js';
import { makeConfigSet } from '../config/load.js';
import { translationFindings } from './validate-translation.js';

// Load the translation's modules while the main thread reads and parses.
const warm = import('./diff.js');

parentPort!.once('message', async (m: { resources: AnyResource[]; mesh: MeshSettings }) => {
  try {
    await warm;
    parentPort!.postMessage({ diagnostics: await translationFindings(makeConfigSet(m.resources, m.mesh)) });
  } catch (err) {
    parentPort!.postMessage({ error: (err as Error).message });
  }
});
