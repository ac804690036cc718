import { constants } from 'node:os';
import type { TickerSetup } from './native-addon.js';

/** What the ticker asked of the kernel, and what the agent does without it: the log's words. */
const FALLBACKS: Record<keyof TickerSetup, string> = {
  shortSlice: "the scheduler's default slice (on a CPU shared with the app, ticks may come late)",
  exactWakeups: "the default timer slack (ticks may fall with the app's own timers)",
};

/** errno number → name (EPERM), from Node's own table. */
function errnoName(n: number): string {
  for (const [name, value] of Object.entries(constants.errno)) if (value === n) return name;
  return `errno ${n}`;
}

/**
 * The requests the kernel refused (by errno name) and what sampling falls back to, or undefined when
 * none was: read once per sampler so that the agent logs it once. A seccomp profile answering
 * sched_setattr or prctl with an error (EPERM) is the usual cause; sampling goes on.
 */
export function refusedSetup(setup: TickerSetup): { refused: Partial<Record<keyof TickerSetup, string>>; fallback: string[] } | undefined {
  const refused: Partial<Record<keyof TickerSetup, string>> = {};
  const fallback: string[] = [];
  for (const key of Object.keys(FALLBACKS) as (keyof TickerSetup)[]) {
    if (setup[key] > 0) {
      refused[key] = errnoName(setup[key]);
      fallback.push(FALLBACKS[key]);
    }
  }
  return fallback.length === 0 ? undefined : { refused, fallback };
}
