// Layer 4: org policies in CEL. (Being written.)
import type { Diagnostic } from '../api/types.js';
import type { LoadResult } from '../config/load.js';

export interface CompiledPolicy {
  name: string;
}

export function evaluatePolicies(_load: LoadResult, _policies: readonly CompiledPolicy[]): Diagnostic[] {
  return [];
}
