import { SondeError } from '../../src/errors.js';

/**
 * Bounds the reviews (TokenReview, SubjectAccessReview) the operator sends to the API server: at most
 * `maxInFlight` at once, at most `maxQueued` waiting; past that a caller is refused at once with
 * SONDE_AUTH_UNAVAILABLE rather than queued without bound. A flood of bad tokens or of connecting agents
 * so costs the API server a fixed number of concurrent requests.
 */
export class ReviewGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  /** The most reviews ever in flight at once (for tests and the note's measurement). */
  peak = 0;

  constructor(
    readonly maxInFlight = 8,
    readonly maxQueued = 512,
  ) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.maxInFlight) {
      if (this.waiting.length >= this.maxQueued) throw new SondeError('SONDE_AUTH_UNAVAILABLE', `more than ${this.maxQueued} credential reviews are waiting`);
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.running++;
    this.peak = Math.max(this.peak, this.running);
    try {
      return await fn();
    } finally {
      // Hand the slot straight to the next waiter, so `running` never undercounts.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  get inFlight(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }
}
