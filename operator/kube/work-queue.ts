import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import { backoffDelay, type BackoffPolicy } from './backoff.js';

/** What a reconcile may ask for: to be run again after a delay (a deadline), or nothing. */
export type ReconcileResult = void | { requeueAfterMs?: number };

export interface WorkQueueOptions {
  log: Logger;
  clock?: Clock;
  /** Retry delays after a reconcile throws, per key (default 200 ms doubling to 30 s). */
  backoff?: BackoffPolicy;
  /** How many different keys may reconcile at once (one key is never run twice at once). Default 2. */
  concurrency?: number;
}

/**
 * The controller's queue of `namespace/name` keys, after client-go's workqueue: a key queued several
 * times runs once (coalescing); a key is never reconciled by two workers at once, and a key added while
 * it runs is run again afterwards; a failure retries the key with capped backoff; `addAfter` (deadlines)
 * runs it on the injected clock.
 */
export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; cancel: () => void }>();
  private readonly clock: Clock;
  private readonly concurrency: number;
  private readonly backoff: BackoffPolicy;
  private shuttingDown = false;
  private idleWaiters: (() => void)[] = [];
  /** Reconciles run (for tests and metrics). */
  reconciles = 0;

  constructor(private readonly handler: (key: string) => Promise<ReconcileResult> | ReconcileResult, private readonly opts: WorkQueueOptions) {
    this.clock = opts.clock ?? systemClock;
    this.concurrency = opts.concurrency ?? 2;
    this.backoff = opts.backoff ?? { initialMs: 200, maxMs: 30_000 };
  }

  add(key: string): void {
    if (this.shuttingDown) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  /** Adds `key` after `ms`; an earlier pending time for the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = this.clock.now() + ms;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    pending?.cancel();
    const cancel = this.clock.schedule(ms, () => {
      this.delayed.delete(key);
      this.add(key);
    });
    this.delayed.set(key, { at, cancel });
  }

  /** Keys waiting or running. */
  get length(): number {
    return this.queue.length + this.processing.size;
  }

  /** Resolves when nothing is queued or running (delayed keys do not count). */
  idle(): Promise<void> {
    if (this.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops taking keys, drops delayed ones and waits for running reconciles. */
  async shutDown(): Promise<void> {
    this.shuttingDown = true;
    for (const d of this.delayed.values()) d.cancel();
    this.delayed.clear();
    this.queue.length = 0;
    this.queued.clear();
    this.dirty.clear();
    await this.idle();
  }

  private pump(): void {
    while (this.processing.size < this.concurrency && this.queue.length > 0) {
      const key = this.queue.shift()!;
      this.queued.delete(key);
      this.processing.add(key);
      void this.process(key);
    }
    if (this.length === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      waiters.forEach((w) => w());
    }
  }

  private async process(key: string): Promise<void> {
    try {
      this.reconciles++;
      const result = await this.handler(key);
      this.failures.delete(key);
      if (result && result.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      const wait = backoffDelay(this.backoff, n);
      this.opts.log.warn({ err, key, attempt: n, retryInMs: wait }, 'reconcile failed; will retry');
      this.addAfter(key, wait);
    } finally {
      this.processing.delete(key);
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
    }
  }
}
