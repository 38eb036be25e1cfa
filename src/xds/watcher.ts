// The narrow seam between the ADS server and whatever holds snapshots, in
// go-control-plane's shape: the server knows streams, nonces and sending; it
// asks a SnapshotWatcher for a proxy's snapshot once the stream's node is
// known (and its identity checked) and is told when that proxy's snapshot
// changes. The server never builds, translates or caches config itself, and
// reports what happens on its streams through XdsCallbacks (./callbacks.ts).
//
// How `serve` wires the pieces (src/cli/serve.ts):
//   builder = translatingBuilder(meshTranslator(), {authorizeCredentials})
//                       model, translation, secrets, credentials, encoding
//   cache   = new SnapshotCache(builder)        the SnapshotWatcher:
//     cache.update(inputs, id)                  the current revision
//     cache.setCanary({id, inputs}, inCohort)   a config canary for a cohort
//     cache.setCanary(undefined)                the canary ends
//     cache.revisionOf(id) / proxies()          which revision each proxy is on
//     await cache.affected()                    proxies the canary changes
//   events  = new XdsEvents()                   the server's callbacks:
//     events.subscribe({streamOpened, streamClosed, responseSent, ack, nack, …})
//   server  = new XdsServer({watcher: cache, callbacks: events})
// Each stream's SnapshotWatch.revision (and /debug/syncz's `revision` per
// proxy) says which revision that proxy is served; ACK and NACK events carry
// the revision the answered response was built from.
// Imports: src/api, src/xds/cache/snapshot (the EncodedSnapshot type only).

import type { ProxyInfo } from '../api/types.js';
import type { EncodedSnapshot } from './cache/snapshot.js';

export interface SnapshotWatch {
  /** What this proxy should be served now; undefined until a revision is accepted. */
  readonly current: EncodedSnapshot | undefined;
  /** The revision the proxy's snapshot was built from (per proxy: during a config canary the cohort's revision). */
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
