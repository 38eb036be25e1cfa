// Mutants of emitted resources for the Envoy-validator oracle: each one
// changes a single field of a valid resource to its emptiest value, so that
// any validate.rules constraint on that field is hit. Pure and deterministic.

export interface Mutant {
  /** JSON path of the changed field, e.g. `virtual_hosts[0].domains`. */
  path: string;
  value: Record<string, unknown>;
}

// Enum names (ROUND_ROBIN, TLSv1_2): an emptied enum name is not the same value on both sides.
const ENUM_NAME = /^[A-Z][A-Za-z0-9_]*$/;

function emptied(v: unknown): unknown[] {
  if (Array.isArray(v)) return v.length ? [[]] : [];
  if (v && typeof v === 'object') return Object.keys(v).some((k) => k !== '@type') ? [{ ...('@type' in v ? { '@type': (v as Record<string, unknown>)['@type'] } : {}) }] : [];
  if (typeof v === 'string') return v !== '' && !ENUM_NAME.test(v) ? [''] : [];
  if (typeof v === 'number') return v !== 0 ? [0] : [];
  return [];
}

/** Every single-field mutant of `value`, at most `limit`. */
export function mutants(value: Record<string, unknown>, limit = 200): Mutant[] {
  const out: Mutant[] = [];
  const visit = (node: unknown, path: string, replace: (v: unknown) => Record<string, unknown>) => {
    if (out.length >= limit) return;
    if (path) for (const e of emptied(node)) out.push({ path, value: replace(e) });
    if (Array.isArray(node)) {
      node.forEach((x, i) => visit(x, `${path}[${i}]`, (v) => replace(node.map((y, j) => (j === i ? v : y)))));
    } else if (node && typeof node === 'object') {
      for (const [k, x] of Object.entries(node)) {
        if (k === '@type') continue;
        visit(x, path ? `${path}.${k}` : k, (v) => replace({ ...(node as Record<string, unknown>), [k]: v }));
      }
    }
  };
  visit(value, '', (v) => v as Record<string, unknown>);
  return out;
}
