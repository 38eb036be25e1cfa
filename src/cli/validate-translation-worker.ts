// Worker thread behind startTranslation (validate-translation.ts). Two jobs,
// in this order: parse the config files it is handed (half of a folder's, in
// parallel with the main thread's half) and post the parsed documents back;
// then wait for the loaded resources, rebuild the ConfigSet and post the
// translation findings (the caller locates them).

import { parentPort } from 'node:worker_threads';
import type { AnyResource, MeshSettings } from '../api/types.js';
import { makeConfigSet } from '../config/load.js';
import { parseConfigText, type ParseLimits } from '../config/parse.js';
import { translationFindings } from './validate-translation.js';

// Only the diagnostics are wanted here: resources' content versions are never read, so never hashed.
// Load the translation's modules while the main thread reads and parses.
const warm = import('./diff.js');

type Message = { parse: { file: string; text: string }[]; limits: ParseLimits } | { resources: AnyResource[]; mesh: MeshSettings };

parentPort!.on('message', async (m: Message) => {
  if ('parse' in m) {
    try {
      parentPort!.postMessage({ parsed: m.parse.map(({ file, text }) => ({ file, ...parseConfigText(file, text, m.limits) })) });
    } catch (err) {
      parentPort!.postMessage({ parseError: (err as Error).message });
    }
    return;
  }
  try {
    await warm;
    parentPort!.postMessage({ diagnostics: await translationFindings(makeConfigSet(m.resources, m.mesh)) });
  } catch (err) {
    parentPort!.postMessage({ error: (err as Error).message });
  }
  parentPort!.close(); // the last job: let the thread end
});
