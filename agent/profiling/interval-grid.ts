import type { RawSample } from '../sampler/profile-samples.js';

/**
 * Sessions of different intervals share one sampler, which runs at the finest of them. A session that
 * asked a coarser interval gets the ticks on its own grid: the first tick in each slot of epoch time
 * `intervalUs` long. Whatever the sampler's interval (`tickUs` ≤ `intervalUs`, not necessarily a divisor),
 * that keeps one tick per slot on average, so the session's samples come at the rate it asked and each
 * stands for `intervalUs`: its counts, its period and its times agree.
 */
export function onGrid(tUs: number, tickUs: number, intervalUs: number): boolean {
  if (intervalUs <= tickUs) return true;
  return Math.floor(tUs / intervalUs) !== Math.floor((tUs - tickUs) / intervalUs);
}

/**
 * A sample as a session at `intervalUs` sees it: its ticks (one interval apart, the latest at `ts`) on
 * the session's grid, each standing for `intervalUs`; CPU scaled with the wall time. Undefined when none
 * is on the grid. A sampler at the session's interval or coarser hands the sample back as it is.
 */
export function thinSample(s: RawSample, intervalUs: number): RawSample | undefined {
  if (s.weight <= 0) return s;
  const tickUs = s.wallUs / s.weight;
  if (intervalUs <= tickUs) return s;
  let kept = 0;
  for (let w = 0; w < s.weight; w++) if (onGrid(s.ts - w * tickUs, tickUs, intervalUs)) kept++;
  if (kept === 0) return undefined;
  const wallUs = kept * intervalUs;
  return { ...s, weight: kept, wallUs, cpuUs: s.wallUs > 0 ? (s.cpuUs * wallUs) / s.wallUs : 0 };
}

/** A request's waiting and held-up ticks on one session interval's grid (see `onGrid`). */
export interface IntervalTally {
  readonly intervalUs: number;
  waitingSamples: number;
  waitingUs: number;
  blockedSamples: number;
  blockedUs: number;
  /** Own ticks on this grid inside the request's lifetime within the batch being attributed (scratch). */
  ownInWindow: number;
}

/** One tally per distinct interval, µs. */
export function talliesFor(intervalsUs: Iterable<number>): IntervalTally[] {
  const out: IntervalTally[] = [];
  for (const intervalUs of intervalsUs) {
    if (out.some((t) => t.intervalUs === intervalUs)) continue;
    out.push({ intervalUs, waitingSamples: 0, waitingUs: 0, blockedSamples: 0, blockedUs: 0, ownInWindow: 0 });
  }
  return out;
}
