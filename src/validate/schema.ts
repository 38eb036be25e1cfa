// Layer 1: schema. (Being written: field names and types per kind from Istio's published schemas.)
import type { Diagnostic } from '../api/types.js';
import type { LoadResult } from '../config/load.js';

export function checkSchema(_load: LoadResult): Diagnostic[] {
  return [];
}
