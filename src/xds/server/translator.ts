// The production Translator: src/mesh's buildMeshModel once per revision,
// src/xds/translate's translate per proxy class. Kept apart from the cache
// and the server so both can be tested with hand-built resources.

import type { ProxyInfo } from '../../api/types.js';
import { buildMeshModel, type MeshModel } from '../../mesh/index.js';
import { translateWithDiagnostics, translationKey } from '../translate/index.js';
import type { ModelInputs, Translator } from '../cache/index.js';

export function meshTranslator(): Translator<MeshModel> {
  return {
    model: (inputs: ModelInputs) => buildMeshModel(inputs.config, inputs.index, inputs.overlay),
    key: (proxy: ProxyInfo) => translationKey(proxy),
    translate: (proxy: ProxyInfo, model: MeshModel) => translateWithDiagnostics(proxy, model),
  };
}
