import type { Clock, TimerHandle } from '../clock.js';

/**
 * When `progress` goes out. The operator stops every agent once their counts add up to N, so how late
 * it hears a count is how far past N a session goes (traffic rate × (delay + round trip)). Progress is
 * sent every `tickMs` while a session runs (50 ms: a message only when the count changed, so quiet
 * sessions cost a timer and nothing more, and no timer at all without a session), and as soon as
 * `gapMs` after the last one once a session is near its cap (`soon`, called on the request's path:
 * it only arms a timer, at most one at a time).
 */
export class ProgressPacer {
  private timer: TimerHandle | undefined;
  private due = Number.POSITIVE_INFINITY;
  private lastAt = Number.NEGATIVE_INFINITY;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly send: () => void,
    /** Whether any session still runs: the tick goes on while it does. */
    private readonly active: () => boolean,
    readonly tickMs = 50,
    readonly gapMs = 10,
  ) {}

  /** A session started: progress goes out every tick until none runs. */
  wake(): void {
    this.arm(this.tickMs);
  }

  /** A session is near its cap: progress goes out now, or `gapMs` after the last one. */
  soon(): void {
    this.arm(Math.max(0, this.lastAt + this.gapMs - this.clock.now()));
  }

  close(): void {
    this.closed = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(delayMs: number): void {
    if (this.closed) return;
    const due = this.clock.now() + delayMs;
    if (this.timer && this.due <= due) return;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.due = due;
    this.timer = this.clock.setTimeout(() => this.fire(), delayMs);
  }

  private fire(): void {
    this.timer = undefined;
    this.due = Number.POSITIVE_INFINITY;
    this.lastAt = this.clock.now();
    try {
      this.send();
    } finally {
      if (this.active()) this.arm(this.tickMs);
    }
  }
}
