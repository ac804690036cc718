/**
 * Time as the agent sees it, injected so deadlines, backoff and catalogue windows are testable without
 * sleeping. `nowUs` shares its epoch with the sampler's sample timestamps (epoch microseconds), which
 * is what lets a sample be placed inside a request's lifetime.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Epoch microseconds with sub-millisecond precision, monotonic within the process. */
  nowUs(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** An opaque timer; `unref` so that the agent never keeps the app's process alive. */
export interface TimerHandle {
  unref?(): unknown;
}

/** The real clock. Timers are unref'd: an idle agent must not hold the event loop open. */
export const systemClock: Clock = {
  now: () => Date.now(),
  nowUs: () => (performance.timeOrigin + performance.now()) * 1000,
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
