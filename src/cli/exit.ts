// Exit codes and user-facing errors. A UserError carries a message a person
// can act on (with file:line, URL or flag); it is printed without a stack.

export const EXIT = {
  OK: 0,
  /** validate: errors found; diff: changes found. */
  FINDINGS: 1,
  /** Usage problem, unreadable input, unreachable source. */
  USAGE: 2,
} as const;

export class UserError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT.USAGE) {
    super(message);
    this.name = 'UserError';
  }
}
