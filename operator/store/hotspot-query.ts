import type Database from 'better-sqlite3';
import type { CallTree } from '../../src/model/call-tree.js';
import { byFunction, functionKey, functionKeyStart, knownStarts } from '../../src/model/by-function.js';
import { type FrameKind, makeFrame } from '../../src/model/frame.js';
import { frameWeights } from '../../src/model/hotspots.js';
import type { HotspotFilter, HotspotGroup, HotspotRow } from './contracts.js';

/** Frame kinds that are not functions: their time counts in the totals, but they are not listed. */
const UNLISTED: readonly FrameKind[] = ['idle', 'synthetic'];

/**
 * Cluster-wide hotspots across sessions, filtered by namespace, workload and request type.
 *
 * One row per function (src/model/by-function.ts: the lines agents report merged), its line the
 * smallest any session saw; a function stored without its start line (an older agent's session)
 * joins the one with a start that other sessions report (joinStartsAcrossSessions). Per-frame self and total weights are additive across trees (a frame's total in a merged tree is the
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

  joinStartsAcrossSessions(db, t);
  const totalUs = (db.prepare(`SELECT COALESCE(SUM(ws.total_us), 0) AS t FROM ${t.workloads} ws JOIN temp.hotspot_sel USING (session, workload)`).get() as { t: number }).t;
  const placeholders = UNLISTED.map(() => '?').join(', ');
  const top = db
    .prepare(
      `SELECT COALESCE(a.canon, f.fkey) AS gkey, name, file, MIN(line) AS line, kind, SUM(self_us) AS self_us, SUM(total_us) AS total_us, SUM(samples) AS samples
       FROM ${t.frames} f JOIN temp.hotspot_sel USING (session, workload) LEFT JOIN temp.hotspot_alias a ON a.fkey = f.fkey
       WHERE kind NOT IN (${placeholders})
       GROUP BY gkey HAVING ${by} > 0
       ORDER BY ${by} DESC, name, gkey LIMIT ?`,
    )
    .all(...UNLISTED, limit) as { gkey: string; name: string; file: string; line: number; kind: FrameKind; self_us: number; total_us: number; samples: number }[];

  const groupsOf = db.prepare<[string], { namespace: string; workload: string; request: string; session: string; self_us: number }>(
    `SELECT s.namespace, f.workload, s.request, f.session, f.self_us
     FROM ${t.frames} f JOIN temp.hotspot_sel sel ON sel.session = f.session AND sel.workload = f.workload JOIN sessions s ON s.id = f.session
     LEFT JOIN temp.hotspot_alias a ON a.fkey = f.fkey
     WHERE COALESCE(a.canon, f.fkey) = ? ORDER BY s.namespace, f.workload, s.request, s.created_at DESC`,
  );
  const pct = (v: number): number => (totalUs > 0 ? Math.round((v / totalUs) * 10000) / 100 : 0);
  const items = top.map((r): HotspotRow => {
    const groups = new Map<string, HotspotGroup>();
    for (const g of groupsOf.all(r.gkey)) {
      const key = `${g.namespace}\u0000${g.workload}\u0000${g.request}`;
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { namespace: g.namespace, workload: g.workload, request: g.request, selfUs: 0, sessions: [] }));
      group.selfUs += g.self_us;
      if (!group.sessions.includes(g.session)) group.sessions.push(g.session);
    }
    return {
      frame: { name: r.name, file: r.file, line: r.line, kind: r.kind },
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

/**
 * Fills `temp.hotspot_alias` (stored function key → the key it joins) for the selected sessions: a
 * function stored without a start line (a session recorded by an agent that predates them) joins the
 * same-named function of the same file whose start a session of the selection knows, by the model's
 * rule (by-function.ts `knownStarts`: the one that begins last at or before its line). Within one
 * tree byFunction has done that already; this does it across trees, so one function is one row.
 * Its line is the smallest line any session sampled in it (its lines were merged when its weights
 * were stored), so two same-named functions that such a session saw are one row there, at the first.
 */
function joinStartsAcrossSessions(db: Database.Database, t: StatsTables): void {
  db.exec('CREATE TEMP TABLE IF NOT EXISTS hotspot_alias (fkey TEXT PRIMARY KEY, canon TEXT NOT NULL)');
  db.exec('DELETE FROM temp.hotspot_alias');
  const rows = db
    .prepare(
      `SELECT f.fkey, f.name, f.file, f.kind, MIN(f.line) AS line FROM ${t.frames} f JOIN temp.hotspot_sel USING (session, workload)
       WHERE f.kind = 'code' AND f.file <> '' GROUP BY f.fkey`,
    )
    .all() as { fkey: string; name: string; file: string; kind: FrameKind; line: number }[];
  const frames = rows.map((r) => {
    const start = functionKeyStart(r.fkey);
    return makeFrame(r.name, r.file, start ?? r.line, 0, r.kind, undefined, start);
  });
  const join = knownStarts(frames, undefined);
  const insert = db.prepare('INSERT INTO temp.hotspot_alias (fkey, canon) VALUES (?, ?)');
  frames.forEach((f, i) => {
    if (f.functionLine !== undefined) return;
    const joined = join(f);
    if (joined.functionLine !== undefined) insert.run(rows[i]!.fkey, functionKey(joined));
  });
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
