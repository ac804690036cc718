import { existsSync, renameSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { isCorrupt } from './disk-errors.js';
import { migrate } from './schema.js';

/**
 * Opens (or creates) the store's SQLite file, configured and migrated. A file that is not a database
 * or fails SQLite's quick check is moved aside as `<file>.corrupt-<time>` (with its -wal and -shm)
 * and a fresh store is opened, with one clear log line saying what was kept where: an operator that
 * crash-loops on a damaged volume profiles nothing, and the damaged file stays for inspection.
 */
export function openDatabase(file: string, log: Logger, now: () => number): Database.Database {
  try {
    return configure(new Database(file), file !== ':memory:');
  } catch (err) {
    if (file === ':memory:' || !isCorrupt(err)) throw err;
    const aside = `${file}.corrupt-${new Date(now()).toISOString().replace(/[:.]/g, '-')}`;
    for (const suffix of ['', '-wal', '-shm']) if (existsSync(file + suffix)) renameSync(file + suffix, aside + suffix);
    log.error({ err, file, movedTo: aside }, 'the store file is damaged: moved it aside and opened a fresh, empty store (earlier sessions and results are in the moved file)');
    return configure(new Database(file), true);
  }
}

function configure(db: Database.Database, check: boolean): Database.Database {
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = OFF');
    db.pragma('busy_timeout = 5000');
    // Query scratch (the hotspot selection) stays in memory: reads must not need disk space.
    db.pragma('temp_store = MEMORY');
    if (check) {
      // quick_check reads every page once (no index cross-checks): damage anywhere is found at start,
      // not at the first unlucky query. It answers rows of text; "ok" alone means sound.
      const rows = db.pragma('quick_check(1)') as { quick_check: string }[];
      if (rows[0]?.quick_check !== 'ok') throw Object.assign(new Error(`quick_check: ${rows.map((r) => r.quick_check).join('; ')}`), { code: 'SQLITE_CORRUPT' });
    }
    migrate(db);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}
