import type Database from 'better-sqlite3';
import type { CallTree } from '../../src/model/call-tree.js';
import { byFunction, functionKey } from '../../src/model/by-function.js';
import type { FrameKind } from '../../src/model/frame.js';
import { frameWeights } from '../../src/model/hotspots.js';
import type { HotspotFilter, HotspotGroup, HotspotRow } from './contracts.js';
import { type FunctionSums, joinFunctionStarts } from './join-function-starts.js';

/** Frame kinds that are not functions: their time counts in the totals, but they are not listed. */
const UNLISTED: readonly FrameKind[] = ['idle', 'synthetic'];

/**
 * Cluster-wide hotspots across sessions, filtered by namespace, workload and request type.
 *
 * One row per function (src/model/by-function.ts: the lines agents report merged), its line the
 * smallest any session saw; a function stored without its start line (an older agent's session)
 * joins the one with a start that other sessions report (join-function-starts.ts). Per-frame self and total weights are additive across trees (a frame's total in a merged tree is the
 * sum of its totals in the parts, since merging keeps paths), so the store keeps them per (session,
 * workload), computed once with the model's `frameWeights` and recomputed only when that session got
 * new requests. A query then sums rows in SQL instead of merging every tree of the cluster.
 */
export function computeHotspots(
  db: Database.Database,
  filter: HotspotFilter,
  workloadTree: (session: string, workload: string, onlyWorkload: boolean) => CallTree,
  /**
   * False when the store cannot write: the weights are gathered in memory-only temp tables instead
   * (stored ones copied, stale ones computed there), so the read answers without writing the disk.
   */
  refresh = true,
): { items: HotspotRow[]; totalUs: number } {
  const by = filter.by === 'total' ? 'total_us' : 'self_us';
  const limit = Math.max(1, Math.min(filter.limit ?? 50, 1000));
  const sessions = selectSessions(db, filter);
  db.exec('CREATE TEMP TABLE IF NOT EXISTS hotspot_sel (session TEXT NOT NULL, workload TEXT NOT NULL, PRIMARY KEY (session, workload))');
  const t: StatsTables = refresh ? { frames: 'frame_stats', workloads: 'workload_stats' } : { frames: 'temp.hs_frame_stats', workloads: 'temp.hs_workload_stats' };
  if (!refresh) {
    db.exec(`CREATE TEMP TABLE IF NOT EXISTS hs_frame_stats (session TEXT NOT NULL, workload TEXT NOT NULL, fkey TEXT NOT NULL, name TEXT NOT NULL,
      file TEXT NOT NULL, line INTEGER NOT NULL, kind TEXT NOT NULL, self_us REAL NOT NULL, total_us REAL NOT NULL, samples REAL NOT NULL,
      PRIMARY KEY (session, workload, fkey))`);
    db.exec('CREATE TEMP TABLE IF NOT EXISTS hs_workload_stats (session TEXT NOT NULL, workload TEXT NOT NULL, version INTEGER NOT NULL, total_us REAL NOT NULL, PRIMARY KEY (session, workload))');
  }

  db.transaction(() => {
    db.exec('DELETE FROM temp.hotspot_sel');
    if (!refresh) db.exec('DELETE FROM temp.hs_frame_stats; DELETE FROM temp.hs_workload_stats;');
    const workloadsOf = db.prepare<[string], { workload: string }>('SELECT DISTINCT workload FROM requests WHERE session = ?');
    const statsVersion = db.prepare<[string, string], { version: number }>('SELECT version FROM workload_stats WHERE session = ? AND workload = ?');
    const select = db.prepare('INSERT INTO temp.hotspot_sel (session, workload) VALUES (?, ?)');
    for (const s of sessions) {
      const all = workloadsOf.all(s.id).map((r) => r.workload);
      for (const w of all) {
        if (filter.workload !== undefined && w !== filter.workload) continue;
        const fresh = statsVersion.get(s.id, w)?.version === s.version;
        if (!fresh) refreshStats(db, t, s.id, w, s.version, workloadTree(s.id, w, all.length === 1));
        else if (!refresh) {
          db.prepare(`INSERT INTO ${t.frames} SELECT * FROM frame_stats WHERE session = ? AND workload = ?`).run(s.id, w);
          db.prepare(`INSERT INTO ${t.workloads} SELECT * FROM workload_stats WHERE session = ? AND workload = ?`).run(s.id, w);
        }
        select.run(s.id, w);
      }
    }
  })();

  const totalUs = (db.prepare(`SELECT COALESCE(SUM(ws.total_us), 0) AS t FROM ${t.workloads} ws JOIN temp.hotspot_sel USING (session, workload)`).get() as { t: number }).t;
  const placeholders = UNLISTED.map(() => '?').join(', ');
  // Every function's sums in one pass, joined across sessions (join-function-starts.ts), then ranked
  // here: a function stored under two keys can only be ranked once they are added. Numbers and the
  // key only (as arrays): reading names and files of thousands of functions would cost more than the
  // query; the listed rows get theirs from their groups below.
  const sums = (
    db
      .prepare(
        `SELECT fkey, MIN(line), SUM(self_us), SUM(total_us), SUM(samples)
         FROM ${t.frames} JOIN temp.hotspot_sel USING (session, workload)
         WHERE kind NOT IN (${placeholders})
         GROUP BY fkey`,
      )
      .raw(true)
      .all(...UNLISTED) as [string, number, number, number, number][]
  ).map(([fkey, line, self_us, total_us, samples]): FunctionSums => ({ fkey, line, self_us, total_us, samples }));
  const rank = by === 'total_us' ? 'total_us' : 'self_us';
  // Ties in key order: kind, then name, then file (functionKey), stable from one query to the next.
  const top = joinFunctionStarts(sums)
    .filter((r) => r[rank] > 0)
    .sort((a, b) => b[rank] - a[rank] || binary(a.fkey, b.fkey))
    .slice(0, limit);

  // One statement per number of stored keys a row sums (1, sometimes 2 or 3).
  type GroupRow = { namespace: string; workload: string; request: string; session: string; self_us: number; name: string; file: string; kind: FrameKind };
  const groupQueries = new Map<number, Database.Statement<string[], GroupRow>>();
  const groupsOf = (keys: string[]): GroupRow[] => {
    let q = groupQueries.get(keys.length);
    if (!q) {
      q = db.prepare(
        `SELECT s.namespace, f.workload, s.request, f.session, f.self_us, f.name, f.file, f.kind
         FROM ${t.frames} f JOIN temp.hotspot_sel sel ON sel.session = f.session AND sel.workload = f.workload JOIN sessions s ON s.id = f.session
         WHERE f.fkey IN (${keys.map(() => '?').join(', ')}) ORDER BY s.namespace, f.workload, s.request, s.created_at DESC`,
      );
      groupQueries.set(keys.length, q);
    }
    return q.all(...keys);
  };
  const pct = (v: number): number => (totalUs > 0 ? Math.round((v / totalUs) * 10000) / 100 : 0);
  const items = top.map((r): HotspotRow => {
    const groups = new Map<string, HotspotGroup>();
    const rows = groupsOf(r.keys);
    // Joined keys share kind, name and file (joinKeysToStarts joins only those), so any row names the function.
    const { name, file, kind } = rows[0]!;
    for (const g of rows) {
      const key = `${g.namespace}\u0000${g.workload}\u0000${g.request}`;
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { namespace: g.namespace, workload: g.workload, request: g.request, selfUs: 0, sessions: [] }));
      group.selfUs += g.self_us;
      if (!group.sessions.includes(g.session)) group.sessions.push(g.session);
    }
    return {
      frame: { name, file, line: r.line, kind },
      selfUs: r.self_us,
      totalUs: r.total_us,
      selfPercent: pct(r.self_us),
      totalPercent: pct(r.total_us),
      samples: r.samples,
      groups: [...groups.values()].sort((a, b) => b.selfUs - a.selfUs),
    };
  });
  return { items, totalUs };
}

/** Orders strings as SQLite's BINARY collation does (by code unit, which agrees with UTF-8 byte order outside surrogates). */
function binary(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function selectSessions(db: Database.Database, filter: HotspotFilter): { id: string; version: number }[] {
  const where = ['req_version > 0'];
  const args: string[] = [];
  if (filter.namespace !== undefined) where.push('namespace = ?'), args.push(filter.namespace);
  if (filter.request !== undefined) where.push('request = ?'), args.push(filter.request);
  if (filter.namespaces !== undefined) {
    if (filter.namespaces.length === 0) return [];
    where.push(`namespace IN (${filter.namespaces.map(() => '?').join(', ')})`), args.push(...filter.namespaces);
  }
  return (db.prepare(`SELECT id, req_version AS version FROM sessions WHERE ${where.join(' AND ')}`).all(...args) as { id: string; version: number }[]);
}

/** Where frame weights are read and written: the stored tables, or memory-only copies when the disk is full. */
interface StatsTables {
  frames: string;
  workloads: string;
}

/** Rewrites one (session, workload)'s function weights from its merged tree, lines merged per function. */
function refreshStats(db: Database.Database, t: StatsTables, session: string, workload: string, version: number, lineTree: CallTree): void {
  const tree = byFunction(lineTree).tree;
  db.prepare(`DELETE FROM ${t.frames} WHERE session = ? AND workload = ?`).run(session, workload);
  const insert = db.prepare(
    `INSERT INTO ${t.frames} (session, workload, fkey, name, file, line, kind, self_us, total_us, samples)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (session, workload, fkey) DO UPDATE SET self_us = self_us + excluded.self_us,
       total_us = total_us + excluded.total_us, samples = samples + excluded.samples`,
  );
  const fw = frameWeights(tree);
  tree.frames.forEach((f, i) => {
    const self = fw.self.wallUs[i]!;
    const total = fw.total.wallUs[i]!;
    if (self > 0 || total > 0) insert.run(session, workload, functionKey(f), f.name, f.file, f.line, f.kind, self, total, fw.self.samples[i]!);
  });
  db.prepare(`INSERT OR REPLACE INTO ${t.workloads} (session, workload, version, total_us) VALUES (?, ?, ?, ?)`).run(session, workload, version, tree.total.wallUs[0]!);
}
