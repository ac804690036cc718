/**
 * Exit codes of the REST commands (`sonde sessions`, `sonde export`), documented in their --help:
 * 0 done; 1 the operator answered with an error (shown with its code); 2 bad arguments or a bad
 * session file (nothing was sent); 3 the operator could not be reached (connection, TLS, timeout);
 * 4 `sessions start --wait` saw a session end Failed or with nothing profiled.
 */
export const EXIT = Object.freeze({ ok: 0, api: 1, usage: 2, unreachable: 3, sessionFailed: 4 });

/** Bad arguments or input files: the message says which flag or file; nothing reached the operator. */
export class UsageError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'UsageError';
  }
}

/** One problem of an API error (`problems[]` in docs/api.md). */
export interface ApiProblem {
  field: string;
  message: string;
}

/** The operator answered with its error shape (or a non-2xx without it): exit 1. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly problems: ApiProblem[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The operator was not reached or the exchange broke off (refused, DNS, TLS, timeout, cut): exit 3. */
export class UnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnreachableError';
  }
}

/** Writes an error the way every REST command shows it and returns the exit code it calls for. */
export function reportError(command: string, err: unknown, stderr: NodeJS.WritableStream, hint?: string): number {
  if (err instanceof UsageError) {
    for (const p of err.problems) stderr.write(`sonde ${command}: ${p}\n`);
    stderr.write(`Run \`sonde ${command} --help\` for usage.\n`);
    return EXIT.usage;
  }
  if (err instanceof ApiError) {
    stderr.write(`sonde ${command}: ${err.code} (HTTP ${err.status}): ${err.message}\n`);
    for (const p of err.problems) stderr.write(`  ${p.field}: ${p.message}\n`);
    if (hint) stderr.write(`  ${hint}\n`);
    return EXIT.api;
  }
  if (err instanceof UnreachableError) {
    stderr.write(`sonde ${command}: ${err.message}\n`);
    return EXIT.unreachable;
  }
  throw err;
}
