// Validation: four layers over one loaded revision, each producing
// Diagnostics. Pure: policies are loaded by the caller and passed in.
//   1. schema   — field names and types per kind (schema.ts)
//   2. rules    — Istio's per-kind validation (rules/*.ts)
//   3. analyze  — cross-resource analyzers like `istioctl analyze` (analyzers/*.ts)
//   4. policies — the organisation's CEL rules (policies.ts)

import type { Diagnostic } from '../api/types.js';
import type { LoadResult } from '../config/load.js';

export interface ValidateOptions {
  /** Compiled org policies (see policies.ts); none when omitted. */
  policies?: readonly unknown[];
}

export function validate(load: LoadResult, _opts: ValidateOptions = {}): Diagnostic[] {
  return [...load.diagnostics];
}

export function hasErrors(diags: readonly Diagnostic[]): boolean {
  return diags.some((d) => d.severity === 'error');
}
