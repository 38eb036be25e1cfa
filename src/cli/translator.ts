// The xDS translation as `meshcd diff` and `meshcd validate` load it: only
// when used, and only its own modules (validate's worker thread loads this
// and nothing of diff's Git or validation code).

import type { EnvoyTranslator } from '../diff/envoy.js';
import { buildServiceIndex } from '../registry/config.js';
import { UserError } from './exit.js';

/**
 * The xDS translation, when this build has it (src/mesh and src/xds/translate).
 * Loaded at run time so `meshcd diff` works, minus the Envoy section, without it.
 */
export async function loadTranslator(): Promise<EnvoyTranslator<unknown> | string> {
  const load = async (rel: string): Promise<Record<string, unknown> | undefined> => {
    try {
      return (await import(new URL(rel, import.meta.url).href)) as Record<string, unknown>;
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') return undefined;
      throw new UserError(`loading the xDS translation (${rel}) failed: ${(err as Error).message}`);
    }
  };
  const mesh = await load('../mesh/index.js');
  const xlate = await load('../xds/translate/index.js');
  if (!mesh || !xlate || typeof mesh.buildMeshModel !== 'function' || typeof xlate.translate !== 'function') {
    return 'the xDS translation is not part of this build';
  }
  return {
    buildMeshModel: mesh.buildMeshModel as EnvoyTranslator<unknown>['buildMeshModel'],
    translate: xlate.translate as EnvoyTranslator<unknown>['translate'],
    ...(typeof xlate.translationKey === 'function' ? { translationKey: xlate.translationKey as NonNullable<EnvoyTranslator<unknown>['translationKey']> } : {}),
    ...(typeof xlate.translateWithDiagnostics === 'function' ? { translateWithDiagnostics: xlate.translateWithDiagnostics as NonNullable<EnvoyTranslator<unknown>['translateWithDiagnostics']> } : {}),
    buildServiceIndex,
  };
}
