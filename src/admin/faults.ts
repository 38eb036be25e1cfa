// Process-level faults. An unhandled rejection or an uncaught exception in
// any component of `meshcd serve` is logged (one line, message redacted, no
// stack frames beyond the one that names where) and counted in
// `meshcd_process_faults_total{kind}`, and serving goes on: the xDS streams,
// the CA and the admin port belong to other components than the one that
// failed, and a control plane that exits takes every proxy's updates with it.

import type { Logger } from '../util/log.js';
import { logger } from '../util/log.js';
import { metric } from '../util/metrics.js';

export type FaultKind = 'unhandled_rejection' | 'uncaught_exception';

/** URL credentials and bearer/basic tokens are never logged, whatever a component put in its message. */
export function redactFault(message: string): string {
  return message
    .replace(/(\w+:\/\/)[^/@\s]+@/g, '$1[redacted]@')
    .replace(/\b(Bearer|Basic|token|password|secret)([=: ]+)\S+/gi, '$1$2[redacted]');
}

/** The message, and the first stack frame (where it happened), on one line. */
export function describeFault(reason: unknown, redact: (s: string) => string = (s) => s): { message: string; at?: string; type: string } {
  const clean = (s: string) => redactFault(redact(s.split('\n')[0]!)).slice(0, 500);
  if (reason instanceof Error) {
    const frame = reason.stack?.split('\n').find((l) => /^\s+at /.test(l))?.trim().replace(/^at /, '');
    return { type: reason.name, message: clean(reason.message), ...(frame ? { at: frame.slice(0, 300) } : {}) };
  }
  let s: string;
  try {
    s = String(reason);
  } catch {
    s = Object.prototype.toString.call(reason);
  }
  return { type: typeof reason, message: clean(s) };
}

export interface FaultHandlerOptions {
  log?: Logger;
  /** Removes known secret values from a message (serve passes source/secret's redact). */
  redact?: (message: string) => string;
}

/** Installs the handlers; returns the function that removes them. */
export function installFaultHandlers(opts: FaultHandlerOptions = {}): () => void {
  const log = opts.log ?? logger('process');
  const faults = metric('counter', 'meshcd_process_faults_total', 'Unhandled rejections and uncaught exceptions that meshcd logged and survived', ['kind']);
  const report = (kind: FaultKind, reason: unknown) => {
    faults.inc({ kind });
    try {
      log.error({ kind, ...describeFault(reason, opts.redact) }, `${kind === 'unhandled_rejection' ? 'unhandled promise rejection' : 'uncaught exception'}; serving continues`);
    } catch {
      /* the logger itself failed: the count above still says it happened */
    }
  };
  const onRejection = (reason: unknown) => report('unhandled_rejection', reason);
  const onException = (err: unknown) => report('uncaught_exception', err);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}
