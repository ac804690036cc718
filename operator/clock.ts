/**
 * Time as the operator sees it, injected wherever deadlines, heartbeats, throttles or retention matter,
 * so tests move time forward instead of sleeping.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Runs `fn` once after `ms`; the returned function cancels it (a no-op once it ran). */
  schedule(ms: number, fn: () => void): () => void;
}

/** The real clock. Timers are unref'd: an operator is kept alive by its servers, not by its deadlines. */
export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(ms, fn) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return () => clearTimeout(t);
  },
};

/** Runs `fn` every `ms` on `clock` until the returned function is called. */
export function every(clock: Clock, ms: number, fn: () => void): () => void {
  let cancel: () => void = () => {};
  let stopped = false;
  const tick = (): void => {
    if (stopped) return;
    cancel = clock.schedule(ms, tick);
    fn();
  };
  cancel = clock.schedule(ms, tick);
  return () => {
    stopped = true;
    cancel();
  };
}

/**
 * A clock that moves only when told: `advance(ms)` runs, in time order, every timer that falls due.
 * For tests of deadlines and heartbeats, here rather than in test/ because every operator part's tests use it.
 */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  schedule(ms: number, fn: () => void): () => void {
    const id = ++this.seq;
    this.timers.set(id, { at: this.current + Math.max(0, ms), fn });
    return () => void this.timers.delete(id);
  }

  /** Moves time forward by `ms`, running due timers (including ones they schedule) in order. */
  advance(ms: number): void {
    const end = this.current + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.timers.delete(next[0]);
      this.current = Math.max(this.current, next[1].at);
      next[1].fn();
    }
    this.current = end;
  }

  /** Timers not yet run, for tests that check nothing was left behind. */
  get pending(): number {
    return this.timers.size;
  }
}
