import { closeSync, openSync, rmSync, statSync, statfsSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';

/**
 * A file of zeros kept beside the database so that a full disk can still be freed. Deleting rows
 * writes too (WAL frames, a checkpoint): on a disk with no byte left, retention and `DELETE …?purge`
 * would fail exactly when they are needed. The store releases the reserve when a delete meets a full
 * disk, retries, and takes the reserve back once writes succeed again.
 */
export class SpaceReserve {
  constructor(
    private readonly file: string,
    private readonly bytes: number,
    private readonly log: Logger,
  ) {}

  /** Whether the reserve is in place (whole). */
  get held(): boolean {
    try {
      return statSync(this.file).size >= this.bytes;
    } catch {
      return false;
    }
  }

  /** Writes the reserve if it is missing; false (and no partial file) when there is no room for it. */
  take(): boolean {
    if (this.bytes <= 0 || this.held) return true;
    let fd: number | undefined;
    try {
      fd = openSync(this.file, 'w');
      const chunk = Buffer.alloc(Math.min(this.bytes, 1024 * 1024));
      for (let left = this.bytes; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, left));
      closeSync(fd);
      return true;
    } catch (err) {
      if (fd !== undefined) closeSync(fd);
      rmSync(this.file, { force: true });
      this.log.debug({ err }, 'no room for the space reserve yet');
      return false;
    }
  }

  /**
   * Whether there is room again: at least the reserve's size free, on the disk or inside the database
   * (`insideBytes`: pages freed by deletes, which SQLite reuses before it grows the file). A small
   * write that squeezes into the last free bytes is not a recovery; without this the store would flap
   * between writable and full on every status write, logging each time. Takes the reserve back when
   * the disk itself has room for it.
   */
  roomy(insideBytes: number): boolean {
    if (this.bytes <= 0) return true;
    let free: number;
    try {
      const fs = statfsSync(dirname(this.file));
      free = fs.bavail * fs.bsize;
    } catch {
      return true;
    }
    if (!this.held && free >= 2 * this.bytes) this.take();
    return free + insideBytes >= this.bytes;
  }

  /** Gives the reserve's space back to the filesystem; true if there was one. */
  release(): boolean {
    if (this.bytes <= 0) return false;
    const had = this.held;
    rmSync(this.file, { force: true });
    if (had) this.log.warn({ bytes: this.bytes }, 'released the space reserve to free a full disk');
    return had;
  }
}
