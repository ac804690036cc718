import { writeSync } from 'node:fs';
import type { Clock } from './clock.js';

/**
 * Where the operator's log lines go: a file descriptor (stdout by default), written in batches off the
 * hot path, that can never hold shutdown hostage.
 *
 * Why not pino.destination: sonic-boom's flushSync retries every write error forever, EPIPE included
 * (`sonde operator | head -3`, then SIGTERM: the flush at shutdown and at exit spins, and no timer or
 * second signal can run). Here a write error other than EAGAIN/EBUSY moves the destination to
 * `broken` for good (the reader is gone; later lines are dropped, counted), and a full non-blocking
 * pipe is waited on only until a deadline (asynchronously by a timer, synchronously by flushSync).
 *
 * States: open → broken (terminal). Lines are written with writeSync from a batch flushed on the next
 * turn of the loop, so order is exact and no write is ever in flight when flushSync runs.
 */
export type LogDestinationState = 'open' | 'broken';

export interface LogDestinationOptions {
  /** File descriptor to write (default 1, stdout). */
  fd?: number;
  /** Deadlines (flushSync's wait on a full pipe, the retry timer). */
  clock: Clock;
  /** How long flushSync waits for a full pipe before dropping what is left (default 1,000 ms). */
  flushSyncTimeoutMs?: number;
  /** Bytes held while the pipe is full; lines beyond are dropped and counted (default 4 MiB). */
  maxBufferedBytes?: number;
  /** The write call, replaceable in tests to simulate a pipe that is full (default fs.writeSync). */
  write?: (fd: number, data: Buffer) => number;
}

const RETRY_MS = 10;
const SLEEP = new Int32Array(new SharedArrayBuffer(4));

/** A pino destination stream that drops rather than blocks once its reader is gone. */
export class LogDestination {
  private stateValue: LogDestinationState = 'open';
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  private cancelRetry: (() => void) | undefined;
  private droppedLines = 0;
  private errorCode: string | undefined;
  private readonly fd: number;
  private readonly clock: Clock;
  private readonly flushSyncTimeoutMs: number;
  private readonly maxBufferedBytes: number;
  private readonly writeFn: (fd: number, data: Buffer) => number;

  constructor(options: LogDestinationOptions) {
    this.fd = options.fd ?? 1;
    this.clock = options.clock;
    this.flushSyncTimeoutMs = options.flushSyncTimeoutMs ?? 1000;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 4 * 1024 * 1024;
    this.writeFn = options.write ?? ((fd, data) => writeSync(fd, data));
  }

  /** `open`, or `broken` once a write failed for good (then lines are dropped). */
  get state(): LogDestinationState {
    return this.stateValue;
  }

  /** Lines dropped (destination broken, or the buffer full while the pipe was). */
  get dropped(): number {
    return this.droppedLines;
  }

  /** The error code that broke the destination (EPIPE, EBADF, …). */
  get brokenBy(): string | undefined {
    return this.errorCode;
  }

  /** Called by pino with one serialized line. */
  write(line: string): boolean {
    if (this.stateValue === 'broken') {
      this.droppedLines++;
      return true;
    }
    const data = Buffer.from(line);
    if (this.pendingBytes + data.length > this.maxBufferedBytes) {
      this.droppedLines++;
      return true;
    }
    this.pending.push(data);
    this.pendingBytes += data.length;
    if (!this.scheduled && !this.cancelRetry) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.drainOnce();
      });
    }
    return true;
  }

  /** pino's `logger.flush(cb)`: writes what it can now; the callback runs either way. */
  flush(cb?: (err?: Error) => void): void {
    this.drainOnce();
    cb?.();
  }

  /** Writes everything pending, waiting for a full pipe at most `flushSyncTimeoutMs`; never throws. */
  flushSync(): void {
    const deadline = this.clock.now() + this.flushSyncTimeoutMs;
    while (this.stateValue === 'open' && this.pending.length > 0) {
      if (this.writeSome()) continue;
      if (this.clock.now() >= deadline) {
        this.dropPending();
        return;
      }
      Atomics.wait(SLEEP, 0, 0, 1);
    }
  }

  /** Drops what is pending and stops writing (used at exit after flushSync). */
  end(): void {
    this.flushSync();
    this.cancelRetry?.();
    this.cancelRetry = undefined;
  }

  /** Writes until done or the pipe is full; a full pipe retries on a timer. */
  private drainOnce(): void {
    while (this.stateValue === 'open' && this.pending.length > 0) {
      if (!this.writeSome()) {
        this.cancelRetry ??= this.clock.schedule(RETRY_MS, () => {
          this.cancelRetry = undefined;
          this.drainOnce();
        });
        return;
      }
    }
  }

  /** One write of the batch. True when progress was made (or the destination broke); false on a full pipe. */
  private writeSome(): boolean {
    const batch = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    let written: number;
    try {
      written = this.writeFn(this.fd, batch);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN' || code === 'EBUSY') {
        this.pending = [batch];
        return false;
      }
      this.stateValue = 'broken';
      this.errorCode = code ?? String(err);
      this.dropPending();
      return true;
    }
    const rest = batch.subarray(written);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    return true;
  }

  private dropPending(): void {
    // A partial line counts as one.
    let lines = 0;
    for (const b of this.pending) for (const byte of b) if (byte === 10) lines++;
    this.droppedLines += Math.max(lines, this.pending.length > 0 ? 1 : 0);
    this.pending = [];
    this.pendingBytes = 0;
  }
}
