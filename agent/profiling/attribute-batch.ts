import type { RawSample, SampleBatch } from '../sampler/profile-samples.js';
import { onGrid } from './interval-grid.js';
import { RequestState } from './request-state.js';

/**
 * One batch's samples as a timeline, to tell what a request was doing while it was in flight: the
 * thread idle means it was waiting (I/O, timers); the thread busy with anyone else's code means it was
 * held up by other work. Prefix sums over the sorted times make one request's window two binary
 * searches.
 */
export class Timeline {
  constructor(
    readonly startUs: number,
    readonly endUs: number,
    readonly intervalUs: number,
    private readonly ts: Float64Array,
    /** idleBefore[i] / busyBefore[i]: idle / busy samples among the first i. */
    private readonly idleBefore: Uint32Array,
    private readonly busyBefore: Uint32Array,
  ) {}

  /** Adds to `r` its waiting and held-up samples within this batch, then resets its per-batch count. */
  charge(r: RequestState): void {
    const from = lowerBound(this.ts, Math.max(r.startUs, this.startUs));
    const to = upperBound(this.ts, Math.min(r.endUs, this.endUs));
    if (to > from) {
      const waited = this.idleBefore[to]! - this.idleBefore[from]!;
      const blocked = Math.max(0, this.busyBefore[to]! - this.busyBefore[from]! - r.ownInWindow);
      r.waitingSamples += waited;
      r.waitingUs += waited * this.intervalUs;
      r.blockedSamples += blocked;
      r.blockedUs += blocked * this.intervalUs;
      for (const t of r.tallies) {
        if (t.intervalUs <= this.intervalUs) {
          t.waitingSamples += waited;
          t.waitingUs += waited * this.intervalUs;
          t.blockedSamples += blocked;
          t.blockedUs += blocked * this.intervalUs;
        } else {
          // A coarser session: only the ticks on its grid, each standing for its interval.
          let idle = 0;
          let busy = 0;
          for (let i = from; i < to; i++) {
            if (!onGrid(this.ts[i]!, this.intervalUs, t.intervalUs)) continue;
            if (this.idleBefore[i + 1]! > this.idleBefore[i]!) idle++;
            else busy++;
          }
          const held = Math.max(0, busy - t.ownInWindow);
          t.waitingSamples += idle;
          t.waitingUs += idle * t.intervalUs;
          t.blockedSamples += held;
          t.blockedUs += held * t.intervalUs;
        }
      }
    }
    r.ownInWindow = 0;
    for (const t of r.tallies) t.ownInWindow = 0;
  }
}

/**
 * Charges one batch of samples. A sample whose context is request R is R's own: R's code was on the
 * thread. The requests still running (`running`) are charged their waiting and held-up time now; a
 * finished request is charged against the returned timeline when it is reported, so that a batch that
 * completes thousands of requests costs no search per request here.
 */
export function attributeBatch(batch: SampleBatch, running: Iterable<RequestState>): Timeline {
  const { samples, idle, busy, intervalUs } = batch;
  // One timeline of every tick, each time rounded to a whole µs, doubled, plus 1 when idle: a
  // typed-array sort then orders them (epoch µs · 2 stays well inside 2^53). The rounding is what makes
  // the low bit the idle flag: the interrupt sampler stamps ticks with fractions of a µs, and a doubled
  // fraction read as the flag dropped or swapped about half of them. A sample standing for several
  // ticks (the interrupt sampler's busy ticks in native code before it) puts each at its own time, one
  // interval apart.
  let sampleTicks = 0;
  for (const s of samples) sampleTicks += s.weight;
  const n = sampleTicks + idle.length + busy.length;
  const line = new Float64Array(n);
  let k = 0;
  for (const s of samples) for (let w = 0; w < s.weight; w++) line[k++] = Math.round(s.ts - w * intervalUs) * 2;
  for (const t of busy) line[k++] = Math.round(t) * 2;
  for (const t of idle) line[k++] = Math.round(t) * 2 + 1;
  line.sort();
  const ts = new Float64Array(n);
  const idleBefore = new Uint32Array(n + 1);
  const busyBefore = new Uint32Array(n + 1);
  for (let i = 0; i < n; i++) {
    const v = line[i]!;
    const isIdle = v % 2;
    ts[i] = (v - isIdle) / 2;
    idleBefore[i + 1] = idleBefore[i]! + isIdle;
    busyBefore[i + 1] = busyBefore[i]! + (1 - isIdle);
  }
  for (const sample of samples) {
    const owner = sample.context;
    if (owner instanceof RequestState && !owner.retired) {
      const s = withinLife(sample, owner.startUs, intervalUs);
      owner.addOwn(s);
      for (let w = 0; w < s.weight; w++) {
        const t = s.ts - w * intervalUs;
        if (t >= owner.startUs && t <= owner.endUs) {
          owner.ownInWindow++;
          for (const g of owner.tallies) if (g.intervalUs > intervalUs && onGrid(Math.round(t), intervalUs, g.intervalUs)) g.ownInWindow++;
        }
      }
    }
  }
  const timeline = new Timeline(batch.startUs, batch.endUs, batch.intervalUs, ts, idleBefore, busyBefore);
  for (const r of running) timeline.charge(r);
  return timeline;
}

/**
 * A sample whose earlier ticks (busy in native code) began before its request did: only the ticks
 * inside the request's life are its own; the earlier ones stay on the timeline as work of no one.
 */
function withinLife(s: RawSample, startUs: number, intervalUs: number): RawSample {
  if (s.weight <= 1) return s;
  const inLife = 1 + Math.max(0, Math.min(s.weight - 1, Math.floor((s.ts - startUs) / intervalUs)));
  if (inLife === s.weight) return s;
  const share = inLife / s.weight;
  return { ...s, weight: inLife, wallUs: s.wallUs * share, cpuUs: s.cpuUs * share };
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
