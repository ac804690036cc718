/** Capped exponential backoff: how long to wait before retrying a watch, a list or a reconcile. */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** Each failure multiplies the delay by this (default 2). */
  factor?: number;
  /** Up to this fraction of the delay is added at random (default 0.2), so replicas do not retry in step. */
  jitter?: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000 };

/** The delay after the `failures`-th consecutive failure (1-based). `random` is injectable for tests. */
export function backoffDelay(policy: BackoffPolicy, failures: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxMs, policy.initialMs * (policy.factor ?? 2) ** Math.max(0, failures - 1));
  return Math.min(policy.maxMs, Math.round(base * (1 + (policy.jitter ?? 0.2) * random())));
}

/** A failure counter with its delay; `reset()` after a success. */
export class Backoff {
  private failures = 0;
  constructor(private readonly policy: BackoffPolicy = DEFAULT_BACKOFF, private readonly random: () => number = Math.random) {}

  next(): number {
    this.failures++;
    return backoffDelay(this.policy, this.failures, this.random);
  }

  reset(): void {
    this.failures = 0;
  }

  get attempts(): number {
    return this.failures;
  }
}
