// Random edits for the translation property tests (incremental.test.ts,
// follow.test.ts): seeded, so a failure reproduces.

import type { AnyResource } from '../../../../src/api/types.js';

export function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return Math.floor((s / 0x100000000) * n);
  };
}

/** Leaves of a spec: [holder, key] of every string and number. */
function leaves(v: unknown, out: [Record<string, unknown>, string][] = []): [Record<string, unknown>, string][] {
  if (Array.isArray(v)) v.forEach((x, i) => (typeof x === 'object' && x !== null ? leaves(x, out) : out.push([v as unknown as Record<string, unknown>, String(i)])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) (typeof x === 'object' && x !== null ? leaves(x, out) : out.push([v as Record<string, unknown>, k]));
  return out;
}

/** One to three random edits: a resource removed, or one string or number field changed. */
export function mutate(resources: AnyResource[], r: (n: number) => number): AnyResource[] {
  const out = resources.map((x) => ({ ...x, spec: structuredClone(x.spec) }) as AnyResource);
  for (let n = 1 + r(3); n > 0 && out.length > 1; n--) {
    if (r(4) === 0) {
      out.splice(r(out.length), 1);
      continue;
    }
    const target = out[r(out.length)]!;
    const ls = leaves(target.spec);
    if (!ls.length) continue;
    const [holder, key] = ls[r(ls.length)]!;
    const v = holder[key];
    if (typeof v === 'number') holder[key] = v + 1 + r(3);
    else if (typeof v === 'string') holder[key] = r(2) === 0 ? `${v}x` : v.replace(/\d/, (d) => String((Number(d) + 1) % 10));
  }
  return out;
}

