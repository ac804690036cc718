import { pino, type Logger } from 'pino';

/** A logger for tests: silent unless SONDE_TEST_LOG=debug. */
export function testLog(): Logger {
  return pino({ level: process.env.SONDE_TEST_LOG ?? 'silent' });
}

/** Polls `cond` until true (robust on a busy 2-core machine: no timing asserts, just a generous limit). */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Lets pending I/O callbacks and microtasks run. */
export const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));
