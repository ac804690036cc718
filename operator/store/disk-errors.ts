/** SQLite's extended result codes as better-sqlite3 reports them (`err.code`, e.g. `SQLITE_IOERR_WRITE`). */
function sqliteCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/**
 * The store cannot write, for a reason outside the operator: the disk (or the volume's quota, or
 * `max_page_count`) is full, the file became read-only, or the device fails writes. Ingestion stops
 * visibly and the operator keeps serving what it has; these are not bugs to crash on.
 */
export function isStorageFull(err: unknown): boolean {
  const code = sqliteCode(err);
  return code === 'SQLITE_FULL' || code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_IOERR') || (err as { code?: string })?.code === 'ENOSPC';
}

/** The file is not a SQLite database, or its pages are damaged: move it aside rather than crash-loop on it. */
export function isCorrupt(err: unknown): boolean {
  const code = sqliteCode(err);
  return code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT');
}
