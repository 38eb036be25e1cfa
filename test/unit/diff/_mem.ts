// In-memory Revision for diff unit tests.
import type { Revision } from '../../../src/api/types.js';
import { loadRevision, type LoadResult } from '../../../src/config/load.js';
import { memoryRevision } from '../../helpers/revision.js';

export function memRevision(files: Record<string, string>, ref = 'mem'): Revision {
  return memoryRevision(files, 'mem', ref);
}

export function load(files: Record<string, string>): Promise<LoadResult> {
  return loadRevision(memRevision(files));
}

export const vs = (weight: number, extra = '') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: bookinfo
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: ${weight}
    - destination: {host: reviews, subset: v2}
      weight: ${100 - weight}
${extra}`;

export const dr = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
  namespace: bookinfo
spec:
  host: reviews
  subsets:
  - name: v1
    labels: {version: v1}
`;
