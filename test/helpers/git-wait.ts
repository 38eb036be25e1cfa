// Waiting on Reconciler events instead of sleeping: resolves with the first
// event that matches, fails with a clear message after `timeoutMs`.

import type { EventEmitter } from 'node:events';

export function nextEvent<T>(emitter: EventEmitter, event: string, match: (v: T) => boolean = () => true, timeoutMs = 20_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for "${event}"`));
    }, timeoutMs);
    const on = (v: T) => {
      if (!match(v)) return;
      clearTimeout(timer);
      emitter.off(event, on);
      resolve(v);
    };
    emitter.on(event, on);
  });
}
