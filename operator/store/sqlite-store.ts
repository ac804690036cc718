import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { SondeError } from '../../src/errors.js';
import type { CallTree } from '../../src/model/call-tree.js';
import { CallTreeBuilder, emptyTree } from '../../src/model/call-tree-builder.js';
import { addTreeInto, mergeTrees } from '../../src/model/merge.js';
import { deserializeTree } from '../../src/model/serialized.js';
import { PROTOCOL_LIMITS, type PodIdentity, type RequestRecord, type RequestTypeStats } from '../../src/protocol/messages.js';
import { checkedTree } from '../../src/protocol/validate-agent-message.js';
import type { SessionPhase, SessionView } from '../../src/session/types.js';
import { type Clock, every, systemClock } from '../clock.js';
import type { HotspotFilter, HotspotRow, RequestSummary, ResultReader, TreeFilter } from './contracts.js';
import { isStorageFull } from './disk-errors.js';
import { computeHotspots } from './hotspot-query.js';
import { openDatabase } from './open-database.js';
import { SpaceReserve } from './space-reserve.js';
import { StoreHealth, type StoreHealthSnapshot } from './store-health.js';
import { decodeTree, encodeSerialized, encodeTree } from './tree-codec.js';
import { type CachedTree, TreeCache } from './tree-cache.js';

/** How long and how many finished sessions are kept. Running sessions are never purged. */
export interface RetentionOptions {
  /** Finished sessions older than this (by completion) are purged. Default 7 days. */
  maxAgeMs: number;
  /** At most this many finished sessions are kept, newest first. Default 1,000. */
  maxSessions: number;
  /** How often the purge runs. Default 10 minutes; 0 disables the timer (call `purge()` yourself). */
  intervalMs: number;
}

export const DEFAULT_RETENTION: Readonly<RetentionOptions> = Object.freeze({ maxAgeMs: 7 * 24 * 3_600_000, maxSessions: 1000, intervalMs: 600_000 });

export interface StoreOptions {
  /** The SQLite file (created with its directory if missing). `:memory:` for a throwaway store. */
  file: string;
  log: Logger;
  clock?: Clock;
  retention?: Partial<RetentionOptions>;
  /** Nodes of merged trees kept in memory. Default 4 million (about 150 MB at worst). */
  cacheNodes?: number;
  /** Merged trees kept in memory, whatever their size. Default 256. */
  cacheEntries?: number;
  /** Nodes of new request trees held per session before they are folded into its merged tree. Default 200,000. */
  foldNodes?: number;
  /** Bytes kept in `<file>.reserve` so deletes can run on a full disk (space-reserve.ts). Default 8 MiB; 0 for none. */
  reserveBytes?: number;
}

/** The pod a batch of requests came from, as the engine knows it. */
export interface RequestSource {
  /** Pod name (sessions are namespaced, so the name is unique within one). */
  pod: string;
  workload: string;
  /** The agent's process id: request ids are unique only within one process. */
  pid: number;
  /** The application root the agent reported (hello `agent.root`, Sonde 0.4), if any. */
  root?: string | undefined;
}

/** The last catalogue an agent reported, kept so the catalogue survives disconnects and restarts. */
export interface CatalogueSnapshot {
  pod: PodIdentity;
  workload: string;
  labels: Record<string, string>;
  runtime: string;
  runtimeVersion: string;
  agentVersion: string;
  entries: RequestTypeStats[];
  /** Epoch ms. */
  updatedAt: number;
}

export interface PurgeResult {
  sessions: number;
  catalogue: number;
}

/** Request trees stored after a session tree of version `from`, not yet folded into it. */
interface Fold {
  from: number;
  trees: CallTree[];
  nodes: number;
}

interface RequestRow {
  seq: number;
  pod: string;
  rid: string;
  type: string;
  started_at: number;
  duration_ms: number;
  outcome: RequestSummary['outcome'];
  status: number | null;
  samples: number;
  cpu_us: number;
  waiting_us: number;
  blocked_us: number;
}

const TERMINAL: readonly SessionPhase[] = ['Completed', 'Failed'];

/** The cache key of a split or request selection. */
function selectedKey(sessionId: string, filter: TreeFilter): string {
  return `${sessionId}\u0000sel\u0000${filter.split ?? ''}\u0000${filter.pod ?? ''}\u0000${filter.requestId ?? ''}`;
}
/** A session's (or one pod's) application roots; answered from the covering index `requests_roots` alone (schema 3). */
export const ROOTS_SQL = Object.freeze({
  session: `SELECT DISTINCT root FROM requests WHERE session = ? AND root != '' ORDER BY root`,
  pod: `SELECT DISTINCT root FROM requests WHERE session = ? AND pod = ? AND root != '' ORDER BY root`,
});

/** Tables with a `session` column: what deleting a session removes. */
const SESSION_TABLES = ['requests', 'pod_trees', 'frame_stats', 'workload_stats', 'session_trees'] as const;

/**
 * Sonde's store: one SQLite file (WAL) holding sessions, every profiled request with its compressed
 * tree, merged trees per pod and per session, frame weights for cluster-wide hotspots, and the agents'
 * catalogues. Every write is one transaction, and every tree is checked before it is written, so bad
 * data is refused whole and never half-stored.
 *
 * Merged trees are built incrementally: a cached tree remembers the newest request folded into it, and
 * a query folds only the requests that arrived since. Cached trees live in memory (LRU by node count)
 * and, for pods and whole sessions, on disk, so a restarted operator does not rebuild them from scratch.
 */
export class SqliteStore implements ResultReader {
  readonly db: Database.Database;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly retention: RetentionOptions;
  private readonly cache: TreeCache;
  private readonly stopPurge: () => void;
  private readonly foldNodes: number;
  /** Per session: request trees stored since its merged tree was last folded, kept in memory to fold without decoding. */
  private readonly folds = new Map<string, Fold>();
  /** Cache keys of merged trees built by reads and not yet on disk: reads never write, writes persist these. */
  private readonly unsaved = new Set<string>();
  /** Selections being merged in slices (treeAsync), so concurrent asks share one merge. */
  private readonly merging = new Map<string, { version: number; tree: Promise<CallTree> }>();
  private readonly health: StoreHealth;
  private readonly reserve: SpaceReserve | undefined;
  private readonly stmt;

  constructor(options: StoreOptions) {
    this.log = options.log.child({ module: 'store' });
    this.clock = options.clock ?? systemClock;
    this.retention = { ...DEFAULT_RETENTION, ...options.retention };
    this.cache = new TreeCache(options.cacheNodes ?? 4_000_000, options.cacheEntries ?? 256);
    this.foldNodes = options.foldNodes ?? 200_000;
    if (options.file !== ':memory:') mkdirSync(dirname(options.file), { recursive: true });
    this.health = new StoreHealth(this.log, () => this.clock.now());
    this.db = openDatabase(options.file, this.log, () => this.clock.now());
    const reserveBytes = options.reserveBytes ?? 8 * 1024 * 1024;
    if (options.file !== ':memory:' && reserveBytes > 0) {
      this.reserve = new SpaceReserve(`${options.file}.reserve`, reserveBytes, this.log);
      this.reserve.take();
    }
    const db = this.db;
    this.stmt = {
      upsertSession: db.prepare(
        `INSERT INTO sessions (id, namespace, name, request, phase, terminal, created_at, completed_at, view)
         VALUES (@id, @namespace, @name, @request, @phase, @terminal, @created_at, @completed_at, @view)
         ON CONFLICT(id) DO UPDATE SET namespace = excluded.namespace, name = excluded.name, request = excluded.request,
           phase = excluded.phase, terminal = excluded.terminal, created_at = excluded.created_at,
           completed_at = excluded.completed_at, view = excluded.view`,
      ),
      getSession: db.prepare<[string], { view: string }>('SELECT view FROM sessions WHERE id = ?'),
      sessionVersion: db.prepare<[string], { req_version: number }>('SELECT req_version FROM sessions WHERE id = ?'),
      findSession: db.prepare<[string, string], { view: string }>('SELECT view FROM sessions WHERE namespace = ? AND name = ? ORDER BY created_at DESC LIMIT 1'),
      insertRequest: db.prepare(
        `INSERT OR IGNORE INTO requests (session, pod, workload, agent_pid, rid, type, started_at, duration_ms, outcome, status,
           samples, cpu_us, waiting_us, blocked_us, wall_us, tree, root)
         VALUES (@session, @pod, @workload, @pid, @rid, @type, @started_at, @duration_ms, @outcome, @status,
           @samples, @cpu_us, @waiting_us, @blocked_us, @wall_us, @tree, @root)`,
      ),
      roots: db.prepare<[string], { root: string }>(ROOTS_SQL.session),
      podRoots: db.prepare<[string, string], { root: string }>(ROOTS_SQL.pod),
      bumpVersion: db.prepare<[number, string]>('UPDATE sessions SET req_version = ? WHERE id = ?'),
      podCounts: db.prepare<[string], { pod: string; n: number; samples: number }>(
        'SELECT pod, COUNT(*) AS n, SUM(samples) AS samples FROM requests WHERE session = ? GROUP BY pod',
      ),
      summaries: db.prepare<[string], RequestRow>(
        `SELECT seq, pod, rid, type, started_at, duration_ms, outcome, status, samples, cpu_us, waiting_us, blocked_us
         FROM requests WHERE session = ? ORDER BY started_at, seq`,
      ),
      summariesOfPod: db.prepare<[string, string], RequestRow>(
        `SELECT seq, pod, rid, type, started_at, duration_ms, outcome, status, samples, cpu_us, waiting_us, blocked_us
         FROM requests WHERE session = ? AND pod = ? ORDER BY started_at, seq`,
      ),
      durations: db.prepare<[string], { duration_ms: number }>('SELECT duration_ms FROM requests WHERE session = ? ORDER BY duration_ms'),
      treesSince: db.prepare<[string, number], { seq: number; tree: Buffer }>('SELECT seq, tree FROM requests WHERE session = ? AND seq > ? ORDER BY seq'),
      podTreesSince: db.prepare<[string, string, number], { seq: number; tree: Buffer }>(
        'SELECT seq, tree FROM requests WHERE session = ? AND pod = ? AND seq > ? ORDER BY seq',
      ),
      getPodTree: db.prepare<[string, string], { upto: number; requests: number; tree: Buffer }>('SELECT upto, requests, tree FROM pod_trees WHERE session = ? AND pod = ?'),
      putPodTree: db.prepare('INSERT OR REPLACE INTO pod_trees (session, pod, upto, requests, tree) VALUES (?, ?, ?, ?, ?)'),
      getSessionTree: db.prepare<[string], { upto: number; requests: number; tree: Buffer }>('SELECT upto, requests, tree FROM session_trees WHERE session = ?'),
      putSessionTree: db.prepare('INSERT OR REPLACE INTO session_trees (session, upto, requests, tree) VALUES (?, ?, ?, ?)'),
      putCatalogue: db.prepare(
        `INSERT OR REPLACE INTO catalogue (namespace, pod, uid, workload, labels, runtime, runtime_version, agent_version, entries, updated_at)
         VALUES (@namespace, @pod, @uid, @workload, @labels, @runtime, @runtime_version, @agent_version, @entries, @updated_at)`,
      ),
    };
    this.stopPurge = this.retention.intervalMs > 0 ? every(this.clock, this.retention.intervalMs, () => this.purgeSafely()) : () => {};
  }

  // ───────────── sessions ─────────────

  /** Creates or replaces a session's view (spec and status). */
  saveSession(view: SessionView): void {
    const terminal = TERMINAL.includes(view.status.phase);
    const completed = view.status.completedAt ? Date.parse(view.status.completedAt) : NaN;
    this.write('session', () => this.stmt.upsertSession.run({
      id: view.id,
      namespace: view.namespace,
      name: view.name,
      request: view.spec?.request ?? '',
      phase: view.status.phase,
      terminal: terminal ? 1 : 0,
      created_at: Date.parse(view.createdAt) || this.clock.now(),
      completed_at: terminal ? (Number.isFinite(completed) ? completed : this.clock.now()) : null,
      view: JSON.stringify(view),
    }));
    // A finished session's merged trees go to disk now, on this write path (reads only build them).
    if (terminal) this.persistTrees(view.id);
  }

  getSession(id: string): SessionView | undefined {
    const row = this.stmt.getSession.get(id);
    return row ? (JSON.parse(row.view) as SessionView) : undefined;
  }

  findSession(namespace: string, name: string): SessionView | undefined {
    const row = this.stmt.findSession.get(namespace, name);
    return row ? (JSON.parse(row.view) as SessionView) : undefined;
  }

  /** Sessions, newest first. */
  listSessions(filter: { namespace?: string; phase?: SessionPhase; terminal?: boolean } = {}): SessionView[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.namespace !== undefined) where.push('namespace = ?'), args.push(filter.namespace);
    if (filter.phase !== undefined) where.push('phase = ?'), args.push(filter.phase);
    if (filter.terminal !== undefined) where.push('terminal = ?'), args.push(filter.terminal ? 1 : 0);
    const sql = `SELECT view FROM sessions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id`;
    return (this.db.prepare(sql).all(...args) as { view: string }[]).map((r) => JSON.parse(r.view) as SessionView);
  }

  /** Removes a session and everything stored for it. False if there was no such session. */
  deleteSession(id: string): boolean {
    let found: boolean;
    try {
      found = this.freeing('delete', () =>
        this.db.transaction(() => {
          for (const table of SESSION_TABLES) this.db.prepare(`DELETE FROM ${table} WHERE session = ?`).run(id);
          return this.db.prepare('DELETE FROM sessions WHERE id = ?').run(id).changes > 0;
        })(),
      );
    } catch (err) {
      if (!(err instanceof SondeError) || err.code !== 'SONDE_STORE_FULL') throw err;
      found = this.deleteInChunks(id);
    }
    this.cache.deletePrefix(`${id}\u0000`);
    for (const key of [...this.unsaved]) if (key.startsWith(`${id}\u0000`)) this.unsaved.delete(key);
    this.folds.delete(id);
    return found;
  }

  /**
   * The delete for a disk too full to hold one transaction's WAL frames: the session row first (so the
   * API stops showing it at once), then its rows a few hundred at a time, checkpointing between chunks
   * so the WAL is reused instead of grown. An interruption leaves only rows of no session, which the
   * next purge sweeps.
   */
  private deleteInChunks(id: string): boolean {
    const found = this.write('delete', () => this.db.prepare('DELETE FROM sessions WHERE id = ?').run(id).changes > 0);
    for (const table of SESSION_TABLES) {
      const chunk = this.db.prepare(`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE session = ? LIMIT 200)`);
      while (this.write('delete', () => chunk.run(id).changes) > 0) this.checkpoint('RESTART');
    }
    this.checkpoint('TRUNCATE');
    this.log.warn({ session: id }, 'deleted a session in chunks to free a full disk');
    return found;
  }

  // ───────────── requests ─────────────

  /**
   * Stores finished requests of one pod. Each tree is checked (and sized) first; one bad record refuses
   * the whole batch with a SondeError and writes nothing. Requests already stored (same pod, process and
   * request id: a resend after a reconnect) are skipped. Returns the records actually added.
   */
  addRequests(sessionId: string, source: RequestSource, records: readonly RequestRecord[]): RequestRecord[] {
    const before = this.stmt.sessionVersion.get(sessionId);
    if (!before) throw new SondeError('SONDE_NOT_FOUND', `session ${sessionId}`);
    const trees: CallTree[] = [];
    const rows = records.map((r, i) => {
      const json = JSON.stringify(r.tree);
      if (json.length > PROTOCOL_LIMITS.maxMessageBytes) throw new SondeError('SONDE_TREE_TOO_LARGE', `request ${i}: tree of ${json.length} bytes`);
      let tree: CallTree;
      try {
        // A tree the hub's validator already read is not read twice.
        tree = checkedTree(r.tree) ?? deserializeTree(r.tree);
      } catch (err) {
        throw new SondeError('SONDE_BAD_MESSAGE', `request ${i} (${String(r.id).slice(0, 64)}): ${(err as Error).message}`, { cause: err });
      }
      trees.push(tree);
      return {
        session: sessionId,
        pod: source.pod,
        workload: source.workload,
        pid: source.pid,
        rid: r.id,
        type: r.type,
        started_at: r.startedAt,
        duration_ms: r.durationMs,
        outcome: r.outcome,
        status: r.status ?? null,
        samples: r.samples,
        cpu_us: r.cpuUs,
        waiting_us: r.waitingUs,
        blocked_us: r.blockedUs,
        wall_us: tree.totals.wallUs,
        tree: encodeSerialized(json),
        root: source.root ?? '',
      };
    });
    const inserted = this.write('requests', () =>
      this.db.transaction(() => {
        const out: { index: number; seq: number }[] = [];
        rows.forEach((row, index) => {
          const res = this.stmt.insertRequest.run(row);
          if (res.changes > 0) out.push({ index, seq: Number(res.lastInsertRowid) });
        });
        if (out.length) this.stmt.bumpVersion.run(out[out.length - 1]!.seq, sessionId);
        return out;
      })(),
    );
    if (inserted.length) this.remember(sessionId, before.req_version, inserted.map((x) => ({ seq: x.seq, tree: trees[x.index]! })));
    return inserted.map((x) => records[x.index]!);
  }

  /**
   * The application roots the agents of a session (or of one of its pods) reported with their
   * requests, for source-path.ts's rule: sorted, without duplicates; empty when none reported one.
   */
  roots(sessionId: string, filter: Pick<TreeFilter, 'pod'> = {}): string[] {
    const rows = filter.pod !== undefined ? this.stmt.podRoots.all(sessionId, filter.pod) : this.stmt.roots.all(sessionId);
    return rows.map((r) => r.root);
  }

  /**
   * Keeps the trees just stored for the next fold of the session's merged tree, and folds once enough
   * nodes wait: the merge work is spread over ingestion, memory stays bounded, and a query finds the
   * tree (nearly) built.
   */
  private remember(sessionId: string, previousVersion: number, added: { seq: number; tree: CallTree }[]): void {
    let fold = this.folds.get(sessionId);
    if (!fold) this.folds.set(sessionId, (fold = { from: previousVersion, trees: [], nodes: 0 }));
    for (const a of added) {
      fold.trees.push(a.tree);
      fold.nodes += a.tree.size;
    }
    if (fold.nodes >= this.foldNodes) this.foldPending(sessionId);
  }

  /** Folds the remembered trees into the cached session tree, when they continue it exactly. */
  private foldPending(sessionId: string): void {
    const fold = this.folds.get(sessionId);
    if (!fold || fold.trees.length === 0) return;
    const key = `${sessionId}\u0000`;
    const base = this.cache.get(key) ?? this.loadStored(this.stmt.getSessionTree.get(sessionId));
    const upto = this.stmt.sessionVersion.get(sessionId)?.req_version ?? 0;
    this.folds.delete(sessionId);
    // The remembered trees start right after `fold.from`; only a base at exactly that point (or none,
    // for a session whose every request is remembered) continues them. Otherwise the next query
    // rebuilds from the stored requests, which stay the source of truth.
    if (base ? base.upto !== fold.from : fold.from !== 0) return;
    const next: CachedTree = {
      tree: mergeTrees(base ? [base.tree, ...fold.trees] : fold.trees),
      upto,
      requests: (base?.requests ?? 0) + fold.trees.length,
    };
    this.cache.set(key, next);
    this.folds.set(sessionId, { from: upto, trees: [], nodes: 0 });
  }

  /** Requests and samples stored per pod of a session: the counts the engine resumes from. */
  podCounts(sessionId: string): Map<string, { requests: number; samples: number }> {
    const out = new Map<string, { requests: number; samples: number }>();
    for (const r of this.stmt.podCounts.all(sessionId)) out.set(r.pod, { requests: r.n, samples: r.samples ?? 0 });
    return out;
  }

  requests(sessionId: string, filter: Pick<TreeFilter, 'pod'> = {}): RequestSummary[] {
    const rows = filter.pod !== undefined ? this.stmt.summariesOfPod.all(sessionId, filter.pod) : this.stmt.summaries.all(sessionId);
    return rows.map((r) => {
      const s: RequestSummary = {
        id: r.rid,
        pod: r.pod,
        type: r.type,
        startedAt: r.started_at,
        durationMs: r.duration_ms,
        outcome: r.outcome,
        samples: r.samples,
        cpuUs: r.cpu_us,
        waitingUs: r.waiting_us,
        blockedUs: r.blocked_us,
      };
      if (r.status !== null) s.status = r.status;
      return s;
    });
  }

  // ───────────── trees ─────────────

  /**
   * The merged tree of the requests the filter selects (an empty tree when none). The returned tree may
   * be shared with the cache: CallTree is immutable by contract, so callers read it and never write.
   */
  tree(sessionId: string, filter: TreeFilter = {}): CallTree {
    const version = this.stmt.sessionVersion.get(sessionId)?.req_version;
    if (!version) return emptyTree();
    if (filter.requestId !== undefined || filter.split !== undefined) return this.selectedTree(sessionId, version, filter);
    if (filter.pod !== undefined) return this.podTree(sessionId, filter.pod, version);
    return this.sessionTree(sessionId, version);
  }

  /** The whole session, folded incrementally from the last cached or stored tree. */
  private sessionTree(sessionId: string, version: number): CallTree {
    const key = `${sessionId}\u0000`;
    this.foldPending(sessionId);
    let cached = this.cache.get(key) ?? this.loadStored(this.stmt.getSessionTree.get(sessionId));
    if (!cached || cached.upto < version) {
      // Cold path: after a restart, or when the remembered trees could not continue the cached tree.
      cached = this.fold(cached, this.stmt.treesSince.all(sessionId, cached?.upto ?? 0));
      this.folds.set(sessionId, { from: cached.upto, trees: [], nodes: 0 });
    }
    if (!cached.persisted) this.unsaved.add(key);
    return this.keep(key, cached).tree;
  }

  private podTree(sessionId: string, pod: string, version: number): CallTree {
    const key = `${sessionId}\u0000pod\u0000${pod}`;
    const cached = this.cache.get(key) ?? this.loadStored(this.stmt.getPodTree.get(sessionId, pod));
    if (cached && cached.upto >= version) return this.keep(key, cached).tree;
    const fresh = this.stmt.podTreesSince.all(sessionId, pod, cached?.upto ?? 0);
    if (fresh.length === 0 && cached) return this.keep(key, { ...cached, upto: version }).tree;
    const next = this.fold(cached, fresh);
    if (next.requests > 0) this.unsaved.add(key);
    return this.keep(key, { ...next, upto: version }).tree;
  }

  /** Trees of a filtered set of requests (split, one request), cached in memory only while no request arrives. */
  private selectedTree(sessionId: string, version: number, filter: TreeFilter): CallTree {
    const key = selectedKey(sessionId, filter);
    const cached = this.cache.get(key);
    if (cached && cached.upto === version) return cached.tree;
    const { where, args } = this.selection(sessionId, filter);
    const rows = this.db.prepare(`SELECT seq, tree FROM requests WHERE ${where} ORDER BY seq`).all(...args) as { seq: number; tree: Buffer }[];
    // Nothing selected (an unknown request id, a pod with no requests) is not worth an entry.
    if (rows.length === 0) return emptyTree();
    const tree = mergeTrees(rows.map((r) => decodeTree(r.tree)));
    this.cache.set(key, { tree, upto: version, requests: rows.length });
    return tree;
  }

  /**
   * `tree()` for the API: the same tree, but a split or request selection that is not cached is merged
   * in slices of `slice` requests with the event loop free between them. A slow split of a large
   * session decodes and merges thousands of trees (seconds); done in one go it would stall every
   * agent, heartbeat and event stream of the operator meanwhile. Concurrent asks for the same
   * selection share one merge.
   */
  async treeAsync(sessionId: string, filter: TreeFilter = {}, slice = 32): Promise<CallTree> {
    if (filter.requestId === undefined && filter.split === undefined) return this.tree(sessionId, filter);
    const version = this.stmt.sessionVersion.get(sessionId)?.req_version;
    if (!version) return emptyTree();
    const key = selectedKey(sessionId, filter);
    const cached = this.cache.get(key);
    if (cached && cached.upto === version) return cached.tree;
    const running = this.merging.get(key);
    if (running && running.version === version) return running.tree;
    const tree = this.mergeInSlices(key, sessionId, version, filter, slice);
    this.merging.set(key, { version, tree });
    try {
      return await tree;
    } finally {
      if (this.merging.get(key)?.tree === tree) this.merging.delete(key);
    }
  }

  private async mergeInSlices(key: string, sessionId: string, version: number, filter: TreeFilter, slice: number): Promise<CallTree> {
    const { where, args } = this.selection(sessionId, filter);
    // Sequence numbers first (small); trees a slice at a time, so no statement stays open across a yield.
    const seqs = (this.db.prepare(`SELECT seq FROM requests WHERE ${where} AND seq <= ? ORDER BY seq`).all(...args, version) as { seq: number }[]).map((r) => r.seq);
    if (seqs.length === 0) return emptyTree();
    const builder = new CallTreeBuilder();
    for (let i = 0; i < seqs.length; i += slice) {
      const part = seqs.slice(i, i + slice);
      const rows = this.db.prepare(`SELECT tree FROM requests WHERE seq IN (${part.map(() => '?').join(',')}) ORDER BY seq`).all(...part) as { tree: Buffer }[];
      for (const r of rows) addTreeInto(builder, decodeTree(r.tree));
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (!this.db.open) throw new SondeError('SONDE_SHUTTING_DOWN', 'the store closed during a merge');
    }
    const tree = builder.build();
    this.cache.set(key, { tree, upto: version, requests: seqs.length });
    return tree;
  }

  /** The WHERE clause of a split or request selection (the same rule as `selectRequests` in the API). */
  private selection(sessionId: string, filter: TreeFilter): { where: string; args: unknown[] } {
    const where = ['session = ?'];
    const args: unknown[] = [sessionId];
    if (filter.pod !== undefined) where.push('pod = ?'), args.push(filter.pod);
    if (filter.requestId !== undefined) where.push('rid = ?'), args.push(filter.requestId);
    if (filter.split !== undefined) {
      const { p50, p90 } = this.durationPercentiles(sessionId);
      if (filter.split === 'slow') where.push('duration_ms >= ?'), args.push(p90);
      else where.push('duration_ms <= ?'), args.push(p50);
    }
    return { where: where.join(' AND '), args };
  }

  /** Nearest-rank p50 and p90 of the session's request durations: the slow/typical split's thresholds. */
  durationPercentiles(sessionId: string): { p50: number; p90: number } {
    const d = this.stmt.durations.all(sessionId).map((r) => r.duration_ms);
    const rank = (p: number): number => d[Math.max(0, Math.ceil(p * d.length) - 1)] ?? 0;
    return { p50: rank(0.5), p90: rank(0.9) };
  }

  private fold(base: CachedTree | undefined, rows: { seq: number; tree: Buffer }[]): CachedTree {
    const trees: CallTree[] = base ? [base.tree] : [];
    for (const r of rows) trees.push(decodeTree(r.tree));
    return {
      // Always through the builder, even for one tree: cached trees then have each frame once.
      tree: mergeTrees(trees),
      upto: rows.length ? rows[rows.length - 1]!.seq : (base?.upto ?? 0),
      requests: (base?.requests ?? 0) + rows.length,
    };
  }

  private loadStored(row: { upto: number; requests: number; tree: Buffer } | undefined): CachedTree | undefined {
    if (!row) return undefined;
    try {
      return { tree: decodeTree(row.tree), upto: row.upto, requests: row.requests, persisted: true };
    } catch (err) {
      // A damaged cache row is rebuilt from the requests, which stay the source of truth.
      this.log.warn({ err }, 'stored merged tree unreadable; rebuilding');
      return undefined;
    }
  }

  private keep(key: string, entry: CachedTree): CachedTree {
    this.cache.set(key, entry);
    return entry;
  }

  /**
   * Writes the merged trees that reads built and left in memory (all, or one session's), so a restarted
   * operator need not rebuild them. Runs on write paths only: a session's end, the retention timer,
   * close. A tree that cannot be written is simply rebuilt later from its requests.
   */
  persistTrees(sessionId?: string): number {
    let written = 0;
    for (const key of [...this.unsaved]) {
      const [session, kind, pod] = key.split('\u0000');
      if (sessionId !== undefined && session !== sessionId) continue;
      this.unsaved.delete(key);
      const entry = this.cache.peek(key);
      if (!entry || entry.persisted || entry.requests === 0) continue;
      try {
        this.write('merged tree', () => {
          if (kind === 'pod') this.stmt.putPodTree.run(session, pod, entry.upto, entry.requests, encodeTree(entry.tree));
          else this.stmt.putSessionTree.run(session, entry.upto, entry.requests, encodeTree(entry.tree));
        });
        entry.persisted = true;
        written++;
      } catch (err) {
        if (!(err instanceof SondeError)) throw err;
      }
    }
    return written;
  }

  /** Whether the store can write, and how many writes it refused (for `/metrics` and conditions). */
  storeHealth(): StoreHealthSnapshot {
    return this.health.snapshot();
  }

  /** Called when the store becomes unwritable or writable again. */
  onStoreHealth(fn: (health: StoreHealthSnapshot) => void): () => void {
    return this.health.onChange(fn);
  }

  /** Runs one write; full or read-only storage becomes SONDE_STORE_FULL and marks the store unwritable. */
  private write<T>(what: string, fn: () => T): T {
    let result: T;
    try {
      result = fn();
    } catch (err) {
      if (!isStorageFull(err)) throw err;
      this.health.failure(what, err);
      throw new SondeError('SONDE_STORE_FULL', `${what}: ${(err as Error).message}`, { cause: err });
    }
    if (!this.health.writable && (this.reserve?.roomy(this.freePagesBytes()) ?? true)) this.health.success();
    return result;
  }

  /** A write that frees space (delete, purge): on a full disk, release the reserve and try once more. */
  private freeing<T>(what: string, fn: () => T): T {
    try {
      return this.write(what, fn);
    } catch (err) {
      if (!(err instanceof SondeError) || err.code !== 'SONDE_STORE_FULL' || !this.reserve?.release()) throw err;
      // With the reserve's room, first move the WAL into the database and truncate it: the retry then
      // starts from an empty WAL instead of one already as large as the disk allowed.
      this.checkpoint('TRUNCATE');
      return this.write(what, fn);
    }
  }

  /** Bytes of pages free inside the database file (deleted rows' pages, reused before the file grows). */
  private freePagesBytes(): number {
    const pages = this.db.pragma('freelist_count', { simple: true }) as number;
    const size = this.db.pragma('page_size', { simple: true }) as number;
    return pages * size;
  }

  /** A WAL checkpoint that may fail on a full disk (it is an optimisation there, not a necessity). */
  private checkpoint(mode: 'PASSIVE' | 'RESTART' | 'TRUNCATE'): void {
    try {
      this.db.pragma(`wal_checkpoint(${mode})`);
    } catch (err) {
      if (!isStorageFull(err)) throw err;
    }
  }

  /** What the merged-tree cache holds now. */
  cacheStats(): { entries: number; nodes: number } {
    return this.cache.stats;
  }

  // ───────────── hotspots ─────────────

  /**
   * Cluster-wide hotspots. The per-workload frame weights they sum are a derived table kept up to date
   * here; on storage that cannot write, missing weights are computed in memory-only temp tables, so
   * the read answers without writing.
   */
  hotspots(filter: HotspotFilter = {}): { items: HotspotRow[]; totalUs: number } {
    const workloadTree = (session: string, workload: string, only: boolean): CallTree => (only ? this.tree(session) : this.workloadTree(session, workload));
    if (this.health.writable) {
      try {
        return computeHotspots(this.db, filter, workloadTree);
      } catch (err) {
        if (!isStorageFull(err)) throw err;
        this.health.failure('hotspot weights', err);
      }
    }
    return computeHotspots(this.db, filter, workloadTree, false);
  }

  /** One workload's merged tree within a session, for cluster-wide hotspots (not cached: its frame weights are). */
  private workloadTree(sessionId: string, workload: string): CallTree {
    const rows = this.db.prepare('SELECT tree FROM requests WHERE session = ? AND workload = ? ORDER BY seq').all(sessionId, workload) as { tree: Buffer }[];
    return rows.length ? mergeTrees(rows.map((r) => decodeTree(r.tree))) : emptyTree();
  }

  // ───────────── catalogue ─────────────

  saveCatalogue(snapshots: readonly CatalogueSnapshot[]): void {
    if (snapshots.length === 0) return;
    this.write('catalogue', () => this.db.transaction(() => {
      for (const s of snapshots) {
        this.stmt.putCatalogue.run({
          namespace: s.pod.namespace,
          pod: s.pod.name,
          uid: s.pod.uid,
          workload: s.workload,
          labels: JSON.stringify(s.labels),
          runtime: s.runtime,
          runtime_version: s.runtimeVersion,
          agent_version: s.agentVersion,
          entries: JSON.stringify(s.entries),
          updated_at: s.updatedAt,
        });
      }
    })());
  }

  /** The last catalogue of every pod seen within the retention age, newest first. */
  catalogueSnapshots(namespace?: string): CatalogueSnapshot[] {
    const rows = (
      namespace === undefined
        ? this.db.prepare('SELECT * FROM catalogue ORDER BY updated_at DESC').all()
        : this.db.prepare('SELECT * FROM catalogue WHERE namespace = ? ORDER BY updated_at DESC').all(namespace)
    ) as Record<string, string & number>[];
    return rows.map((r) => ({
      pod: { namespace: r.namespace!, name: r.pod!, uid: r.uid! },
      workload: r.workload!,
      labels: JSON.parse(r.labels!) as Record<string, string>,
      runtime: r.runtime!,
      runtimeVersion: r.runtime_version!,
      agentVersion: r.agent_version!,
      entries: JSON.parse(r.entries!) as RequestTypeStats[],
      updatedAt: r.updated_at!,
    }));
  }

  // ───────────── retention ─────────────

  /** Purges finished sessions past the age or count limit, and stale catalogues. */
  purge(now = this.clock.now()): PurgeResult {
    const cutoff = now - this.retention.maxAgeMs;
    const old = this.db.prepare('SELECT id FROM sessions WHERE terminal = 1 AND completed_at < ?').all(cutoff) as { id: string }[];
    const extra = this.db
      .prepare('SELECT id FROM sessions WHERE terminal = 1 ORDER BY completed_at DESC, created_at DESC LIMIT -1 OFFSET ?')
      .all(this.retention.maxSessions) as { id: string }[];
    const ids = new Set([...old, ...extra].map((r) => r.id));
    for (const id of ids) this.deleteSession(id);
    // Rows of no session: what an interrupted chunked delete left behind.
    const orphans = this.db.prepare('SELECT DISTINCT session FROM requests WHERE session NOT IN (SELECT id FROM sessions)').all() as { session: string }[];
    for (const o of orphans) this.deleteSession(o.session);
    const catalogue = this.freeing('purge', () => this.db.prepare('DELETE FROM catalogue WHERE updated_at < ?').run(cutoff).changes);
    if (ids.size) {
      this.db.pragma('wal_checkpoint(PASSIVE)');
      this.log.info({ sessions: ids.size, catalogue }, 'retention purge');
    }
    return { sessions: ids.size, catalogue };
  }

  private purgeSafely(): void {
    try {
      this.persistTrees();
      this.purge();
    } catch (err) {
      this.log.error({ err }, 'retention purge failed');
    }
  }

  close(): void {
    this.stopPurge();
    if (this.db.open) {
      try {
        this.persistTrees();
      } catch (err) {
        this.log.warn({ err }, 'merged trees not persisted at close; they will be rebuilt');
      }
      this.db.close();
    }
  }
}
