import { takenBy } from './bound-parts.js';
import type { PodRun, Run } from './session-run.js';

/**
 * The session's running total of requests taken (`Run.taken` = Σ `takenBy` over its parts), kept by
 * deltas: each part remembers what it last added (`PodRun.counted`), and every change to a part's
 * counts or binding (progress, requests, bind, a pod event) re-adds only that part. Stopping at N is
 * then decided on each message in constant time, never by summing the parts on a timer.
 */

/** Brings the part's share of `run.taken` up to date after its counts or its connection changed. */
export function recountPart(run: Pick<Run, 'taken'>, pr: PodRun): void {
  const now = takenBy(pr);
  run.taken += now - (pr.counted ?? 0);
  pr.counted = now;
}

/** Counts every part afresh (a run rebuilt from the store). */
export function countAll(run: Pick<Run, 'taken' | 'pods'>): void {
  run.taken = 0;
  for (const pr of run.pods.values()) {
    pr.counted = 0;
    recountPart(run, pr);
  }
}

/** Requests still missing to N by the running total (0 once it is reached; N for an invalid spec is 0). */
export function missing(run: Pick<Run, 'taken' | 'resolved'>): number {
  return Math.max(0, (run.resolved?.requests ?? 0) - run.taken);
}
