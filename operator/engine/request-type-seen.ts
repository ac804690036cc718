import type { RequestTypeStats } from '../../src/protocol/messages.js';
import type { SqliteStore } from '../store/sqlite-store.js';
import { type EngineCore, R, T } from './engine-core.js';
import { type Run, conditionOf, isTerminal, setCondition } from './session-run.js';

/**
 * Whether any agent has ever reported the session's request type (the `RequestTypeSeen` condition).
 * A type no agent has seen is most often a typo (`GET /api/order/:id`) or a route written differently
 * from how agents name it; the session is still accepted, since traffic may come later, but it says so
 * at once instead of ending "nothing profiled" at the deadline without a word.
 */

/** How many known types the warning lists, so a big catalogue cannot bloat the condition. */
const MAX_LISTED = 8;

/** The request types agents of `namespace` have reported: connected agents' catalogues and stored snapshots. */
export function knownTypes(core: EngineCore, namespace: string): Set<string> {
  const types = new Set<string>();
  const add = (entries: readonly RequestTypeStats[]) => {
    for (const e of entries) types.add(e.type);
  };
  for (const agent of core.hub.agentsIn(namespace)) add(agent.catalogue ?? []);
  const store = core.store as Partial<Pick<SqliteStore, 'catalogueSnapshots'>>;
  try {
    for (const snap of store.catalogueSnapshots?.(namespace) ?? []) add(snap.entries);
  } catch (err) {
    core.log.warn({ err }, 'catalogue could not be read');
  }
  return types;
}

/** A few of the types agents reported, for messages: `agents here reported "GET /a", "GET /b" and 3 more`. */
export function knownList(known: ReadonlySet<string>): string {
  if (known.size === 0) return 'no agent in this namespace has reported any request type yet';
  const listed = [...known].sort().slice(0, MAX_LISTED).map((t) => `"${t}"`);
  return `agents here reported ${listed.join(', ')}${known.size > MAX_LISTED ? ` and ${known.size - MAX_LISTED} more` : ''}`;
}

/** The warning shown when no agent has reported `request` in `namespace`. */
export function unseenMessage(request: string, namespace: string, known: ReadonlySet<string>): string {
  return `no agent in namespace ${namespace} has reported a "${request}" request yet (${knownList(known)}); the session waits for such requests until its deadline: check the request type's spelling`;
}

/** Sets `RequestTypeSeen` on a session whose spec was just accepted. */
export function checkTypeSeen(core: EngineCore, run: Run): void {
  const request = run.resolved?.request;
  if (request === undefined) return;
  const known = knownTypes(core, run.namespace);
  const now = core.clock.now();
  if (known.has(request)) setCondition(run, T.requestTypeSeen, 'True', R.RequestTypeSeen, `agents have reported "${request}" requests`, now);
  else setCondition(run, T.requestTypeSeen, 'False', R.UnknownRequestType, unseenMessage(request, run.namespace, known), now);
}

/** The type turned up (a catalogue, or a stored request): the warning is cleared. True when it changed. */
export function markTypeSeen(core: EngineCore, run: Run): boolean {
  const c = conditionOf(run, T.requestTypeSeen);
  if (!c || c.status === 'True' || !run.resolved) return false;
  setCondition(run, T.requestTypeSeen, 'True', R.RequestTypeSeen, `agents have reported "${run.resolved.request}" requests`, core.clock.now());
  return true;
}

/** An agent's catalogue arrived: sessions of its namespace waiting for one of its types stop warning. */
export function catalogueArrived(core: EngineCore, namespace: string, entries: readonly RequestTypeStats[]): void {
  const runs = core.active.get(namespace);
  if (!runs || entries.length === 0) return;
  const types = new Set(entries.map((e) => e.type));
  for (const run of runs) {
    if (isTerminal(run) || !run.resolved || !types.has(run.resolved.request)) continue;
    if (markTypeSeen(core, run)) core.status.touch(run, true);
  }
}

/** The condition says the type was never seen. */
export function typeUnseen(run: Run): boolean {
  return conditionOf(run, T.requestTypeSeen)?.status === 'False';
}
