import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/**
 * A file's bytes if it is a regular file no larger than `max` bytes; null otherwise. Opened non-blocking:
 * a comment naming a FIFO or a device must not hold the app's thread (fstat then turns it away).
 */
export function readBounded(path: string, max: number): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > max) return null;
    const buf = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, buf, off, st.size - off, off);
      if (n <= 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}
