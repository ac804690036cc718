/** Reconnect pacing: capped exponential growth with full jitter. */
export interface BackoffPolicy {
  /** The first retry waits up to this long. */
  baseMs: number;
  /** No retry waits longer. */
  capMs: number;
  /**
   * (Added with "nothing lost across an operator restart".) For this long after a link that worked is
   * lost, retries wait at most `restartCapMs`: the operator is most likely restarting, and an agent
   * that comes back 20 s late leaves its pod Lost and its held results unsent for those 20 s. Default 60 s.
   */
  restartWindowMs?: number;
  /** The cap inside `restartWindowMs`. Default 2 s (jitter still spreads a fleet's reconnects over it). */
  restartCapMs?: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ baseMs: 500, capMs: 30_000, restartWindowMs: 60_000, restartCapMs: 2000 });

/**
 * The wait before reconnect attempt `attempt` (0 = the first retry): uniformly random in
 * [0, min(cap, base·2^attempt)], so that agents dropped together by an operator restart do not come
 * back together ("full jitter"). `sinceHealthyMs` is the time since a working link was lost (undefined
 * if none was): inside the policy's restart window the cap is the short restart cap. A small floor
 * keeps a tight loop impossible.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random, sinceHealthyMs?: number): number {
  const restarting = sinceHealthyMs !== undefined && sinceHealthyMs < (policy.restartWindowMs ?? DEFAULT_BACKOFF.restartWindowMs!);
  const cap = restarting ? Math.min(policy.capMs, policy.restartCapMs ?? DEFAULT_BACKOFF.restartCapMs!) : policy.capMs;
  const ceiling = Math.min(cap, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.max(50, Math.floor(random() * ceiling));
}
