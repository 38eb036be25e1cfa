// Layer 2: Istio's per-kind rules. (Being written.)
import type { Diagnostic } from '../../api/types.js';
import type { LoadResult } from '../../config/load.js';

export function checkRules(_load: LoadResult): Diagnostic[] {
  return [];
}
