import type { CallTree } from '../../src/model/call-tree.js';

/** A merged tree and the newest request (`requests.seq`) folded into it. */
export interface CachedTree {
  tree: CallTree;
  upto: number;
  requests: number;
  /** Whether this exact tree (same `upto`) is also on disk. */
  persisted?: boolean;
}

/**
 * Recently built merged trees, bounded by their total node count (a 1,000-pod session tree can hold
 * a few hundred thousand nodes; ten of them must not grow the heap without end) and by their number
 * (keys come from query strings: a caller asking for a thousand single requests must not make a
 * thousand small entries, each holding its tree and the API's rendered body). Least recently used
 * goes first. Entries are keyed by session and filter; the store drops a session's entries on purge.
 */
export class TreeCache {
  private readonly entries = new Map<string, CachedTree>();
  private nodes = 0;

  constructor(
    private readonly maxNodes: number,
    private readonly maxEntries = 256,
  ) {}

  /** Entries and nodes held now (for metrics and tests). */
  get stats(): { entries: number; nodes: number } {
    return { entries: this.entries.size, nodes: this.nodes };
  }

  get(key: string): CachedTree | undefined {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  /** The entry without touching its recency (for writers that only persist it). */
  peek(key: string): CachedTree | undefined {
    return this.entries.get(key);
  }

  set(key: string, value: CachedTree): void {
    this.delete(key);
    if (value.tree.size > this.maxNodes) return;
    this.entries.set(key, value);
    this.nodes += value.tree.size;
    for (const [k, v] of this.entries) {
      if (this.nodes <= this.maxNodes && this.entries.size <= this.maxEntries) break;
      this.entries.delete(k);
      this.nodes -= v.tree.size;
    }
  }

  delete(key: string): void {
    const old = this.entries.get(key);
    if (!old) return;
    this.entries.delete(key);
    this.nodes -= old.tree.size;
  }

  /** Drops every entry whose key starts with `prefix` (one session's trees). */
  deletePrefix(prefix: string): void {
    for (const k of [...this.entries.keys()]) if (k.startsWith(prefix)) this.delete(k);
  }
}
