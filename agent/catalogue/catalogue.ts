import type { RequestTypeStats } from '../../src/protocol/messages.js';
import { PROTOCOL_LIMITS } from '../../src/protocol/messages.js';
import type { Clock } from '../clock.js';
import { bucketOf, newBuckets, quantile } from './latency-histogram.js';

/** Where types beyond the catalogue's bound are counted, so a flood of odd URLs cannot grow memory. */
export const OVERFLOW_TYPE = '(other types)';

interface Entry {
  count: number;
  errors: number;
  current: Uint32Array;
  previous: Uint32Array;
}

/**
 * The request types this process has served: count and errors since start, latency percentiles over a
 * recent window (the current and the previous window of `windowMs`, so the figures never drop to
 * nothing at a window boundary).
 */
export class Catalogue {
  private readonly entries = new Map<string, Entry>();
  private windowStart: number;
  /** Bumped on every change, so a sender can tell whether there is anything new to send. */
  version = 0;

  constructor(
    private readonly clock: Clock,
    private readonly windowMs: number = 60_000,
    private readonly maxEntries: number = PROTOCOL_LIMITS.maxCatalogueEntries,
  ) {
    this.windowStart = clock.now();
  }

  /** Records one finished unit of work. */
  record(type: string, durationMs: number, error: boolean): void {
    let e = this.entries.get(type);
    if (e === undefined) {
      if (type !== OVERFLOW_TYPE && this.entries.size >= this.maxEntries - 1) return this.record(OVERFLOW_TYPE, durationMs, error);
      e = { count: 0, errors: 0, current: newBuckets(), previous: newBuckets() };
      this.entries.set(type, e);
    }
    const now = this.clock.now();
    if (now - this.windowStart >= this.windowMs) this.rotate(now);
    e.count++;
    if (error) e.errors++;
    e.current[bucketOf(durationMs)]!++;
    this.version++;
  }

  /** The catalogue as the protocol carries it, busiest types first. */
  snapshot(): RequestTypeStats[] {
    const now = this.clock.now();
    if (now - this.windowStart >= this.windowMs) this.rotate(now);
    const out: RequestTypeStats[] = [];
    for (const [type, e] of this.entries) {
      out.push({
        type,
        count: e.count,
        errors: e.errors,
        p50Ms: round(quantile(0.5, e.current, e.previous)),
        p90Ms: round(quantile(0.9, e.current, e.previous)),
        p99Ms: round(quantile(0.99, e.current, e.previous)),
      });
    }
    return out.sort((a, b) => b.count - a.count || (a.type < b.type ? -1 : 1));
  }

  private rotate(now: number): void {
    // Two windows or more without a rotation: the previous window is stale too.
    const stale = now - this.windowStart >= 2 * this.windowMs;
    for (const e of this.entries.values()) {
      const old = e.previous;
      e.previous = stale ? (e.current.fill(0), e.current) : e.current;
      e.current = old.fill(0);
    }
    this.windowStart = now;
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
