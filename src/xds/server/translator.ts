// The production Translator: src/mesh's buildMeshModel once per revision,
// src/xds/translate's translate per proxy class. Kept apart from the cache
// and the server so both can be tested with hand-built resources.

import type { ProxyInfo } from '../../api/types.js';
import { buildMeshModel, type MeshModel } from '../../mesh/index.js';
import { followModel, translateParts, translateWithDiagnostics, translationKey } from '../translate/index.js';
import type { ModelInputs, Translator } from '../cache/index.js';

const addressCache = new WeakMap<MeshModel, Set<string>>();

function workloadAddresses(model: MeshModel): Set<string> {
  let s = addressCache.get(model);
  if (!s) {
    s = new Set(model.services.flatMap((svc) => svc.endpoints.map((e) => e.address)));
    addressCache.set(model, s);
  }
  return s;
}

/** A placeholder for "has IPs, none of them a workload's": translation then matches inbound by IP (and finds none), not by labels. */
const NO_WORKLOAD_IP = '0.0.0.0';

export function meshTranslator(): Translator<MeshModel> {
  return {
    model(inputs: ModelInputs, previous?: MeshModel): MeshModel {
      const model = buildMeshModel(inputs.config, inputs.index, inputs.overlay, previous);
      // Scopes whose outbound config reads nothing that changed keep it (and its encoded, prepared responses).
      if (previous) followModel(model, previous);
      return model;
    },
    key: (proxy: ProxyInfo) => translationKey(proxy),
    translate: (proxy: ProxyInfo, model: MeshModel) => translateWithDiagnostics(proxy, model),
    // Outbound config is one object per scope (kind, namespace, outbound-relevant labels) under a model:
    // encoded, checked and prepared once for every proxy of the scope; only inbound is per workload.
    translateParts: (proxy: ProxyInfo, model: MeshModel) => translateParts(proxy, model),
    // Translation reads a proxy's IPs only to find the workloads it runs
    // (inbound listeners). Every sidecar has its own IP, so without this each
    // would be its own class and be translated alone on every revision.
    canonical(proxy: ProxyInfo, model: MeshModel): ProxyInfo {
      if (proxy.ips.length === 0) return proxy;
      const known = workloadAddresses(model);
      const ips = proxy.ips.filter((ip) => known.has(ip));
      return { ...proxy, ips: ips.length ? ips : [NO_WORKLOAD_IP] };
    },
  };
}
