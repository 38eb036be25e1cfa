// Layer 3: cross-resource analyzers. (Being written.)
import type { Diagnostic, ServiceIndex } from '../../api/types.js';
import type { LoadResult } from '../../config/load.js';

export function analyze(_load: LoadResult, _index: ServiceIndex): Diagnostic[] {
  return [];
}
