// Structured logging (pino). One root logger; components take a child.
// Secrets never go through here: callers pass identities and ids, not tokens.

import { pino, type Logger } from 'pino';

export type { Logger };

let root: Logger | undefined;

export function rootLogger(): Logger {
  if (!root) {
    const level = process.env.MESHCD_LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'silent' : 'info');
    root = pino({
      level,
      base: { app: 'meshcd' },
      redact: { paths: ['token', 'password', 'secret', '*.token', '*.password', '*.secret', 'authorization', '*.authorization'], censor: '[redacted]' },
    }, pino.destination(2));
  }
  return root;
}

export function setRootLogger(l: Logger): void {
  root = l;
}

export function logger(component: string): Logger {
  return rootLogger().child({ component });
}
