// The narrow seam between the ADS server and whatever holds snapshots, in
// go-control-plane's shape: the server knows streams, nonces and sending; it
// asks a SnapshotWatcher for a proxy's snapshot once the stream's node is
// known (and its identity checked) and is told when that proxy's snapshot
// changes. The server never builds, translates or caches config itself.
// Imports: src/api, src/xds/cache/snapshot (the EncodedSnapshot type only).

import type { ProxyInfo } from '../api/types.js';
import type { EncodedSnapshot } from './cache/snapshot.js';

export interface SnapshotWatch {
  /** What this proxy should be served now; undefined until a revision is accepted. */
  readonly current: EncodedSnapshot | undefined;
  /** The revision id `current` was built from (for syncz and, during a config canary, per-cohort revisions). */
  readonly revision: string | undefined;
  /** Stop notifications: the stream ended. Idempotent. */
  cancel(): void;
}

export interface SnapshotWatcher {
  /**
   * One call per stream, once its node is parsed and its identity checked.
   * `onSnapshot` is called, asynchronously or not, with every later snapshot
   * for this proxy (never with the one already in `current`).
   */
  watch(proxy: ProxyInfo, onSnapshot: (snapshot: EncodedSnapshot, revision: string | undefined) => void): SnapshotWatch;
}
