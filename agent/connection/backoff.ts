/** Reconnect pacing: capped exponential growth with full jitter. */
export interface BackoffPolicy {
  /** The first retry waits up to this long. */
  baseMs: number;
  /** No retry waits longer. */
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ baseMs: 500, capMs: 30_000 });

/**
 * The wait before reconnect attempt `attempt` (0 = the first retry): uniformly random in
 * [0, min(cap, base·2^attempt)], so that agents dropped together by an operator restart do not come
 * back together ("full jitter"). A small floor keeps a tight loop impossible.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.max(50, Math.floor(random() * ceiling));
}
