import type { SessionEngine } from '../engine/contracts.js';
import type { ResultReader } from '../store/contracts.js';
import type { SessionPhase, SessionView } from '../../src/session/types.js';
import { type Access, canRead } from '../auth/access.js';

/**
 * Sessions as the API shows them: the engine's live view where it has one (fresher than the store's),
 * else what the store kept. Both are consulted because the store holds finished and deleted sessions
 * the engine has let go of, and the engine may hold a session a moment before the store does.
 */
export interface SessionSources {
  reader: ResultReader;
  engine: SessionEngine;
}

/** One session by id, or by `namespace/name`. */
export function lookupSession(src: SessionSources, ref: string): SessionView | undefined {
  const byId = src.engine.get(ref) ?? src.reader.getSession(ref);
  if (byId) return byId;
  const slash = ref.indexOf('/');
  if (slash <= 0 || slash === ref.length - 1) return undefined;
  const namespace = ref.slice(0, slash);
  const name = ref.slice(slash + 1);
  const live = src.engine.list().find((s) => s.namespace === namespace && s.name === name);
  if (live) return live;
  const stored = src.reader.findSession(namespace, name);
  return stored ? (src.engine.get(stored.id) ?? stored) : undefined;
}

/** Every session matching the filter, newest first. */
export function listSessions(src: SessionSources, filter: { namespace?: string; phase?: SessionPhase }): SessionView[] {
  const byId = new Map<string, SessionView>();
  for (const s of src.reader.listSessions(filter)) byId.set(s.id, s);
  for (const s of src.engine.list()) {
    if (filter.namespace && s.namespace !== filter.namespace) continue;
    if (filter.phase && s.status.phase !== filter.phase) {
      // The store may still say Running while the engine already moved on: the live view decides.
      byId.delete(s.id);
      continue;
    }
    byId.set(s.id, s);
  }
  return [...byId.values()].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? 1 : -1));
}

/**
 * A session the caller may read, else undefined: one in a namespace it cannot read is "not found", so
 * the API never confirms that it exists.
 */
export function visibleSession(src: SessionSources, ref: string, access: Access): SessionView | undefined {
  const view = lookupSession(src, ref);
  return view && canRead(access, view.namespace) ? view : undefined;
}
