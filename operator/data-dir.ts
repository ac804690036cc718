import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from './config.js';

/**
 * Makes sure the store's directory exists and this process may write in it, before SQLite tries and
 * fails with a bare `EACCES`/`EROFS` deep in the store. In a container the usual cause is a data
 * directory inside the read-only, root-owned image, so the message names the flag and the env var that
 * move it onto a writable volume.
 */
export function ensureWritableDataDir(dir: string, uid: number | undefined = process.getuid?.()): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    const who = uid === undefined ? 'this process' : `user ${uid}`;
    throw new ConfigError([
      `the data directory ${dir} is not writable by ${who} (${reason(dir, err as NodeJS.ErrnoException)}): set --data DIR or SONDE_DATA to a writable directory (in a container, a mounted volume)`,
    ]);
  }
}

/** The error of the nearest existing ancestor: a recursive mkdir under a read-only root says only ENOENT. */
function reason(dir: string, err: NodeJS.ErrnoException): string {
  if (err.code !== 'ENOENT') return err.code ?? err.message;
  let at = dir;
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  try {
    accessSync(at, constants.W_OK);
    mkdirSync(dir);
  } catch (inner) {
    return (inner as NodeJS.ErrnoException).code ?? 'ENOENT';
  }
  return 'ENOENT';
}
