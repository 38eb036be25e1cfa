// The meshcd_xds_* stream metrics, fed from the server's callbacks
// (src/xds/callbacks.ts); `serve` subscribes them. The server itself emits
// none. Names and labels are those the README lists.
// Imports: src/util, src/xds/callbacks, src/xds/cache/snapshot (shortType).

import { gaugeFrom, metric } from '../util/metrics.js';
import { shortType } from './cache/snapshot.js';
import type { XdsCallbacks } from './callbacks.js';

const connected = metric('gauge', 'meshcd_xds_connected_proxies', 'Connected ADS streams by proxy kind', ['kind']);
const pushes = metric('counter', 'meshcd_xds_pushes_total', 'xDS responses sent, by type', ['type']);
const pushDuration = metric('histogram', 'meshcd_xds_push_duration_seconds', 'Time for one stream to take in a new snapshot and queue what changed', [], [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5]);
const convergence = metric('histogram', 'meshcd_xds_push_ack_seconds', 'Push to ACK convergence time, by type', ['type'], [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
const nacks = metric('counter', 'meshcd_xds_nacks_total', 'Responses rejected by proxies, by type', ['type']);
const messageBytes = metric('histogram', 'meshcd_xds_message_bytes', 'Size of xDS responses, by type', ['type'], [256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304]);
const oversize = metric('counter', 'meshcd_xds_oversize_refused_total', 'Responses not sent because they exceeded the client kind\'s message size limit, by type', ['type']);

/** Where the send budget's figures are read at scrape time (serve's xDS server). */
let sendTotals: (() => { inFlight: number; waiting: number }) | undefined;
gaugeFrom('meshcd_xds_send_inflight_bytes', 'Bytes of xDS responses written and not yet taken by their clients, across all connections (bounded by --xds-push-budget)', () => sendTotals?.().inFlight ?? 0);
gaugeFrom('meshcd_xds_send_waiting_connections', 'Connections with responses waiting for room in the push budget', () => sendTotals?.().waiting ?? 0);

/** Reports the push budget of this server in meshcd_xds_send_* (read when scraped). */
export function watchSendBudget(read: () => { inFlight: number; waiting: number }): void {
  sendTotals = read;
}

/** Callbacks that keep the meshcd_xds_* stream metrics. */
export function xdsMetrics(): XdsCallbacks {
  return {
    streamOpened: (e) => connected.inc({ kind: e.proxy.kind }),
    streamClosed: (e) => connected.dec({ kind: e.proxy.kind }),
    responseSent: (e) => {
      pushes.inc({ type: shortType(e.type) });
      messageBytes.observe({ type: shortType(e.type) }, e.bytes);
    },
    ack: (e) => convergence.observe({ type: shortType(e.type) }, e.seconds),
    nack: (e) => nacks.inc({ type: shortType(e.type) }),
    oversize: (e) => oversize.inc({ type: shortType(e.type) }),
    snapshotApplied: (e) => pushDuration.observe(e.seconds),
  };
}
