import type { Logger } from 'pino';
import { parseDuration } from '../../src/session/duration.js';
import type { SessionView } from '../../src/session/types.js';
import { systemClock, type Clock } from '../clock.js';
import type { SessionEngine } from '../engine/contracts.js';
import type { KubeInformer } from './informer.js';
import type { ProfilingSessionObject } from './resources.js';
import { keyOf, splitKey, toSessionInput } from './session-input.js';
import { WorkQueue, type ReconcileResult, type WorkQueueOptions } from './work-queue.js';

export interface SessionControllerOptions {
  /** The ProfilingSession informer (started by the caller or here; starting twice is harmless). */
  informer: KubeInformer<ProfilingSessionObject>;
  log: Logger;
  clock?: Clock;
  /** Set in namespace mode: the orphan sweep then looks only at this namespace's sessions. */
  namespace?: string;
  queue?: Partial<Omit<WorkQueueOptions, 'log' | 'clock'>>;
  /** Added to a deadline before the requeue, so the engine sees it passed (default 50 ms). */
  deadlineSlackMs?: number;
}

/** The running controller. */
export interface SessionController {
  readonly queue: WorkQueue;
  /** True once the informer has synced and the orphan sweep has run. */
  ready(): boolean;
  stop(): Promise<void>;
}

/**
 * Drives the engine from ProfilingSession objects. Every add, update and delete of an object queues its
 * `namespace/name`; reconcile reads the informer cache (never our own status) and either applies the
 * object's desired state (idempotent) or, when the object is gone, removes the session by uid (its agents
 * stop; its results stay in the store). While a session runs, its key is requeued at its deadline on the
 * injected clock, so the deadline is acted on even if nothing else happens.
 */
export function startSessionController(engine: SessionEngine, opts: SessionControllerOptions): SessionController {
  const log = opts.log.child({ module: 'session-controller' });
  const clock = opts.clock ?? systemClock;
  const { informer } = opts;
  const slack = opts.deadlineSlackMs ?? 50;
  /** The uid last applied under each key: a delete, or a recreate under the same name, removes it. */
  const applied = new Map<string, string>();
  /** uids seen in delete events, for objects deleted before their first reconcile. */
  const tombstones = new Map<string, string>();
  let swept = false;

  const reconcile = (key: string): ReconcileResult => {
    const { namespace, name } = splitKey(key);
    const obj = informer.get(namespace, name);
    const previous = applied.get(key) ?? tombstones.get(key);
    tombstones.delete(key);
    if (!obj) {
      // NotFound means done: stop the session if we ran it.
      if (previous && engine.get(previous)) {
        engine.remove(previous);
        log.info({ session: previous, namespace, name }, 'ProfilingSession deleted: session removed');
      }
      applied.delete(key);
      return;
    }
    if (previous && previous !== obj.metadata.uid && engine.get(previous)) {
      engine.remove(previous);
      log.info({ session: previous, namespace, name }, 'ProfilingSession recreated under the same name: old session removed');
    }
    const view = engine.apply(toSessionInput(obj));
    applied.set(key, obj.metadata.uid);
    const deadline = deadlineOf(view);
    if (deadline === undefined) return;
    const wait = deadline - clock.now();
    // The engine keeps its own deadline timer; this requeue is the backstop. Once past the deadline,
    // requeueing again would only spin while the engine winds the session down.
    if (wait < -slack) return;
    return { requeueAfterMs: Math.max(0, wait) + slack };
  };

  const queue = new WorkQueue(reconcile, { log, clock, ...opts.queue });
  const enqueue = (obj: ProfilingSessionObject): void => queue.add(keyOf(obj.metadata.namespace, obj.metadata.name));
  const unsubscribe = [
    informer.on('add', enqueue),
    informer.on('update', (obj, old) => {
      // Our own status writes also arrive as updates; the engine would ignore them, skip the work.
      if (obj.metadata.generation !== old.metadata.generation || obj.metadata.uid !== old.metadata.uid) enqueue(obj);
    }),
    informer.on('delete', (obj) => {
      const key = keyOf(obj.metadata.namespace, obj.metadata.name);
      if (!applied.has(key)) tombstones.set(key, obj.metadata.uid);
      queue.add(key);
    }),
  ];
  // Objects already in the cache (a controller started after its informer synced).
  for (const obj of informer.list()) enqueue(obj);
  informer.start();

  // After a restart, sessions whose objects were deleted while we were down are still running in the
  // engine (resumed from the store): stop them once the cache is complete.
  void informer.synced.then(() => {
    const live = new Set(informer.list().map((o) => o.metadata.uid));
    for (const view of engine.list()) {
      if (view.source !== 'kubernetes' || live.has(view.id)) continue;
      if (opts.namespace !== undefined && view.namespace !== opts.namespace) continue;
      if (view.status.phase !== 'Pending' && view.status.phase !== 'Running') continue;
      log.info({ session: view.id, namespace: view.namespace, name: view.name }, 'session has no ProfilingSession any more: removing');
      engine.remove(view.id);
    }
    swept = true;
  });

  return {
    queue,
    ready: () => informer.hasSynced() && swept,
    async stop() {
      unsubscribe.forEach((u) => u());
      await queue.shutDown();
    },
  };
}

/** When a pending or running session must end, from the engine's view (not from the object's status). */
export function deadlineOf(view: SessionView): number | undefined {
  if (view.status.phase !== 'Pending' && view.status.phase !== 'Running') return undefined;
  let ms: number;
  try {
    ms = parseDuration(view.spec.duration);
  } catch {
    return undefined;
  }
  // The engine's rule: a session ends at createdAt + duration whatever happened in between.
  const start = Date.parse(view.createdAt);
  return Number.isFinite(start) ? start + ms : undefined;
}
