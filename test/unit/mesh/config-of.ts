// Test helper: a ConfigSet straight from YAML text, without a folder.
import type { AnyResource } from '../../../src/api/types.js';
import { KIND_GROUPS, type MeshKind } from '../../../src/api/istio.js';
import { digestOf, makeConfigSet } from '../../../src/config/load.js';
import { parseConfigText } from '../../../src/config/parse.js';

/** A ConfigSet from YAML text (documents need kind, metadata.name/namespace, spec). */
export function configOf(yaml: string) {
  const parsed = parseConfigText('t.yaml', yaml);
  if (parsed.diagnostics.length) throw new Error(parsed.diagnostics.map((d) => d.message).join('; '));
  const resources = parsed.documents.map((d) => {
    const v = d.value as { kind: MeshKind; apiVersion?: string; metadata: { name: string; namespace?: string }; spec: unknown };
    return {
      kind: v.kind,
      apiVersion: v.apiVersion ?? `${KIND_GROUPS[v.kind].group}/${KIND_GROUPS[v.kind].versions[0]}`,
      metadata: { name: v.metadata.name, namespace: v.metadata.namespace ?? 'default', labels: {}, annotations: {} },
      spec: v.spec,
      origin: { file: 't.yaml', line: d.line },
      raw: v as unknown as Record<string, unknown>,
      digest: digestOf(v),
    } as unknown as AnyResource;
  });
  return makeConfigSet(resources);
}

