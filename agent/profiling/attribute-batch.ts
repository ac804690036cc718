import type { SampleBatch } from '../sampler/profile-samples.js';
import { RequestState } from './request-state.js';

/**
 * Charges one batch of samples to the requests in flight.
 *
 * - A sample whose context is request R is R's own: R's code was on the thread.
 * - For every request in flight at a sample's instant that is not its owner, the sample says what the
 *   request was doing meanwhile: the thread idle means it was waiting (I/O, timers); the thread busy
 *   with someone else's code means it was held up by other work.
 *
 * Counting is by prefix sums over the batch's sorted timestamps, so a batch costs
 * O(samples + requests × log samples), not samples × requests.
 */
export function attributeBatch(batch: SampleBatch, inFlight: Iterable<RequestState>): void {
  const { samples } = batch;
  const n = samples.length;
  const ts = new Float64Array(n);
  // idleBefore[i] / busyBefore[i]: idle / busy samples among the first i.
  const idleBefore = new Uint32Array(n + 1);
  const busyBefore = new Uint32Array(n + 1);
  for (let i = 0; i < n; i++) {
    const s = samples[i]!;
    ts[i] = s.ts;
    const idle = s.kind === 'idle' ? 1 : 0;
    idleBefore[i + 1] = idleBefore[i]! + idle;
    busyBefore[i + 1] = busyBefore[i]! + (1 - idle);
    const owner = s.context;
    if (idle === 0 && owner instanceof RequestState && !owner.retired) {
      owner.own.push(s);
      if (s.ts >= owner.startUs && s.ts <= owner.endUs) owner.ownInWindow++;
    }
  }

  for (const r of inFlight) {
    if (r.retired) continue;
    const from = lowerBound(ts, Math.max(r.startUs, batch.startUs));
    const to = upperBound(ts, Math.min(r.endUs, batch.endUs));
    if (to > from) {
      const idle = idleBefore[to]! - idleBefore[from]!;
      const blocked = Math.max(0, busyBefore[to]! - busyBefore[from]! - r.ownInWindow);
      r.waitingSamples += idle;
      r.waitingUs += idle * batch.intervalUs;
      r.blockedSamples += blocked;
      r.blockedUs += blocked * batch.intervalUs;
    }
    r.ownInWindow = 0;
  }
}

/** First index whose value is ≥ x. */
function lowerBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose value is > x. */
function upperBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
