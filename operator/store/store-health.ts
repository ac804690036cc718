import type { Logger } from 'pino';
import type { Condition } from '../../src/session/types.js';

/** Whether the store can write now, and since when it cannot. */
export type StoreState = { writable: true } | { writable: false; since: number; reason: string };

/** What `/metrics` and the sessions' conditions read. */
export interface StoreHealthSnapshot {
  writable: boolean;
  /** Writes refused since start (each batch of requests, each status, each catalogue flush). */
  failedWrites: number;
  /** Epoch ms of the transition to unwritable, when unwritable. */
  since?: number;
  reason?: string;
}

/**
 * The store's writability as an explicit state with two transitions. `failure` and `success` are
 * called around every write; only a transition logs (once, not per refused batch) and notifies listeners,
 * so a full disk is one error line and one status update per running session, not a flood.
 */
export class StoreHealth {
  private state: StoreState = { writable: true };
  private failed = 0;
  private readonly listeners = new Set<(snapshot: StoreHealthSnapshot) => void>();

  constructor(
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  /** A write failed because storage is full or read-only. */
  failure(what: string, err: unknown): void {
    this.failed++;
    if (!this.state.writable) return;
    const reason = (err as Error)?.message ?? String(err);
    this.state = { writable: false, since: this.now(), reason };
    this.log.error({ err, what }, 'the store cannot write (disk full or read-only): profiled requests are refused until space is freed; reads go on');
    this.notify();
  }

  /** A write went through. */
  success(): void {
    if (this.state.writable) return;
    const since = this.state.since;
    this.state = { writable: true };
    this.log.warn({ unwritableForMs: this.now() - since, refusedWrites: this.failed }, 'the store writes again');
    this.notify();
  }

  get writable(): boolean {
    return this.state.writable;
  }

  snapshot(): StoreHealthSnapshot {
    const s = this.state;
    return s.writable ? { writable: true, failedWrites: this.failed } : { writable: false, failedWrites: this.failed, since: s.since, reason: s.reason };
  }

  /** Called on each transition. */
  onChange(fn: (snapshot: StoreHealthSnapshot) => void): () => void {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }

  private notify(): void {
    const snap = this.snapshot();
    for (const fn of this.listeners) {
      try {
        fn(snap);
      } catch (err) {
        this.log.error({ err }, 'store health listener failed');
      }
    }
  }
}

/** The condition running sessions carry while the store cannot write (none while it can). */
export function storeCondition(health: StoreHealthSnapshot, observedGeneration: number): Condition | undefined {
  if (health.writable) return undefined;
  return {
    type: 'StoreWritable',
    status: 'False',
    reason: 'StoreFull',
    message: `the operator's store cannot write (${(health.reason ?? '').slice(0, 200)}): requests profiled now are refused until space is freed`,
    lastTransitionTime: new Date(health.since ?? 0).toISOString(),
    observedGeneration,
  };
}
