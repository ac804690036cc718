import type Database from 'better-sqlite3';

/**
 * The store's schema, versioned by `PRAGMA user_version`: migration k takes a database from version k
 * to k+1, inside one transaction. Migrations are only ever appended; a database newer than this code
 * is refused rather than guessed at.
 *
 * Times are epoch milliseconds. Trees are zlib-deflated JSON of the SerializedTree (the wire form).
 */
const MIGRATIONS: readonly string[] = [
  // 0 → 1: Sonde 0.1
  `
  CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    request TEXT NOT NULL,
    phase TEXT NOT NULL,
    terminal INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    completed_at INTEGER,
    -- the highest requests.seq stored for the session: caches built from an older one are stale
    req_version INTEGER NOT NULL DEFAULT 0,
    view TEXT NOT NULL
  );
  CREATE INDEX sessions_by_name ON sessions(namespace, name);
  CREATE INDEX sessions_by_phase ON sessions(phase);
  CREATE INDEX sessions_by_end ON sessions(terminal, completed_at);

  CREATE TABLE requests (
    seq INTEGER PRIMARY KEY,
    session TEXT NOT NULL,
    pod TEXT NOT NULL,
    workload TEXT NOT NULL,
    agent_pid INTEGER NOT NULL,
    rid TEXT NOT NULL,
    type TEXT NOT NULL,
    started_at REAL NOT NULL,
    duration_ms REAL NOT NULL,
    outcome TEXT NOT NULL,
    status INTEGER,
    samples REAL NOT NULL,
    cpu_us REAL NOT NULL,
    waiting_us REAL NOT NULL,
    blocked_us REAL NOT NULL,
    wall_us REAL NOT NULL,
    tree BLOB NOT NULL
  );
  CREATE UNIQUE INDEX requests_identity ON requests(session, pod, agent_pid, rid);
  CREATE INDEX requests_by_pod ON requests(session, pod, seq);
  CREATE INDEX requests_by_workload ON requests(session, workload, seq);

  -- merged trees, built incrementally: 'upto' is the highest requests.seq folded in
  CREATE TABLE pod_trees (
    session TEXT NOT NULL,
    pod TEXT NOT NULL,
    upto INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    tree BLOB NOT NULL,
    PRIMARY KEY (session, pod)
  );
  CREATE TABLE session_trees (
    session TEXT PRIMARY KEY,
    upto INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    tree BLOB NOT NULL
  );

  -- per (session, workload) frame weights for cluster-wide hotspots; valid while version = req_version
  CREATE TABLE frame_stats (
    session TEXT NOT NULL,
    workload TEXT NOT NULL,
    fkey TEXT NOT NULL,
    name TEXT NOT NULL,
    file TEXT NOT NULL,
    line INTEGER NOT NULL,
    kind TEXT NOT NULL,
    self_us REAL NOT NULL,
    total_us REAL NOT NULL,
    samples REAL NOT NULL,
    PRIMARY KEY (session, workload, fkey)
  );
  CREATE INDEX frame_stats_by_key ON frame_stats(fkey);
  CREATE TABLE workload_stats (
    session TEXT NOT NULL,
    workload TEXT NOT NULL,
    version INTEGER NOT NULL,
    total_us REAL NOT NULL,
    PRIMARY KEY (session, workload)
  );

  CREATE TABLE catalogue (
    namespace TEXT NOT NULL,
    pod TEXT NOT NULL,
    uid TEXT NOT NULL,
    workload TEXT NOT NULL,
    labels TEXT NOT NULL,
    runtime TEXT NOT NULL,
    runtime_version TEXT NOT NULL,
    agent_version TEXT NOT NULL,
    entries TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (namespace, pod)
  );
  CREATE INDEX catalogue_by_age ON catalogue(updated_at);
  `,
  // 1 → 2: hotspots are per function, not per line (by-function.ts): drop the per-line cache, which
  // every query rebuilds on demand.
  `
  DELETE FROM frame_stats;
  DELETE FROM workload_stats;
  `,
  // 2 → 3 (Sonde 0.4): each request keeps the application root its agent reported (hello
  // `agent.root`), so views show paths relative to it after a restart too; '' = not reported.
  `
  ALTER TABLE requests ADD COLUMN root TEXT NOT NULL DEFAULT '';
  -- covering: the column comes after the tree BLOB, so reading it from the table would walk every
  -- request's overflow pages; the index answers a session's (or a pod's) roots alone.
  CREATE INDEX requests_roots ON requests(session, root, pod);
  `,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings a database to SCHEMA_VERSION; throws if it is newer than this code understands. */
export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new Error(`the store was written by a newer Sonde (schema ${current}; this one knows up to ${SCHEMA_VERSION})`);
  }
  for (let v = current; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
