import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { API_GROUP, API_VERSION, CONDITION, PLURAL, type SessionPhase, type SessionView } from '../../src/session/types.js';
import { systemClock, type Clock } from '../clock.js';
import { STATUS_SCHEMA } from '../crd/schema.js';
import type { SessionEngine } from '../engine/contracts.js';
import { backoffDelay, type BackoffPolicy } from './backoff.js';
import type { EventRecorder } from './event-recorder.js';
import type { KubeInformer } from './informer.js';
import type { ProfilingSessionObject } from './resources.js';
import { selectorText } from './selector-text.js';

export interface StatusWriterOptions {
  kubeConfig: KubeConfig;
  /** The ProfilingSession informer: the object's current resourceVersion and uid come from it. */
  informer: KubeInformer<ProfilingSessionObject>;
  events: EventRecorder;
  log: Logger;
  clock?: Clock;
  /** Attempts per write before waiting `backoff.maxMs` and trying again (default 5). */
  maxAttempts?: number;
  backoff?: BackoffPolicy;
}

/** Counters for tests and metrics. */
export interface StatusWriterStats {
  writes: number;
  conflicts: number;
  /** Statuses not written because they equal what was last written. */
  unchanged: number;
  failures: number;
}

export interface StatusWriter {
  readonly stats: StatusWriterStats;
  /** Resolves when no write is in flight. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

interface Track {
  latest: SessionView;
  written?: string;
  rv?: string;
  /** The phase last announced by an Event (seeded from the object's stored status on first sight). */
  phase?: SessionPhase;
  refusedGeneration?: number;
  /** (outcomes) The generation whose unknown request type was already told as a Warning Event. */
  unseenGeneration?: number;
  busy?: Promise<void>;
  dirty: boolean;
}

/**
 * The status the Kubernetes object carries: the engine's view plus `observedGeneration` and the
 * selector as text (printer column). Every schema field is present, absent ones as null, so a merge
 * patch also clears what the engine no longer reports.
 */
export function kubeStatus(view: SessionView): Record<string, unknown> {
  const status: Record<string, unknown> = {
    ...view.status,
    observedGeneration: view.status.observedGeneration ?? view.generation,
    selector: selectorText(view.spec?.selector),
  };
  for (const key of Object.keys(STATUS_SCHEMA.properties ?? {})) if (status[key] === undefined) status[key] = null;
  return status;
}

/**
 * A status as comparable text: keys sorted, nulls left out (a merge patch's null removes the key, so the
 * object read back lacks it). Equal texts mean the object already shows that status.
 */
export function statusText(status: unknown): string {
  return JSON.stringify(status, (_k, v: unknown) => {
    if (!v || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .filter(([, x]) => x !== null && x !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    );
  });
}

const codeOf = (err: unknown): number | undefined => (err as { code?: unknown })?.code as number | undefined;

/**
 * Writes each Kubernetes-sourced session's status to its object's status subresource whenever the
 * engine reports a change, and records Events on start, completion, failure and refused edits (not on
 * progress ticks). Writes are JSON merge patches carrying the object's uid and resourceVersion as
 * preconditions: a 409 means someone else wrote first (a spec edit, another replica), so we fetch the
 * object again and retry with its resourceVersion, up to `maxAttempts`; a missing object or another
 * uid means the session was deleted or recreated, and the write is dropped. Statuses of one session are
 * written one at a time, latest wins, and an unchanged status is not written at all.
 */
export function startStatusWriter(engine: SessionEngine, opts: StatusWriterOptions): StatusWriter {
  const log = opts.log.child({ module: 'status-writer' });
  const clock = opts.clock ?? systemClock;
  const api = opts.kubeConfig.makeApiClient(CustomObjectsApi);
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const maxAttempts = opts.maxAttempts ?? 5;
  const backoff = opts.backoff ?? { initialMs: 100, maxMs: 5000 };
  const stats: StatusWriterStats = { writes: 0, conflicts: 0, unchanged: 0, failures: 0 };
  const tracks = new Map<string, Track>();
  const retries = new Set<() => void>();
  let stopped = false;
  const g = { group: API_GROUP, version: API_VERSION, plural: PLURAL };

  /** Pending retry waits; stop() ends them so it never waits out a backoff. */
  const sleepers = new Set<() => void>();
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const wake = (): void => {
        sleepers.delete(wake);
        cancel();
        resolve();
      };
      const cancel = clock.schedule(ms, wake);
      sleepers.add(wake);
    });

  /** Writes one status; false when the object is gone (nothing more to do for this view). */
  const write = async (track: Track, view: SessionView, text: string, status: Record<string, unknown>): Promise<'written' | 'gone' | 'failed'> => {
    for (let attempt = 1; attempt <= maxAttempts && !stopped; attempt++) {
      let rv = track.rv;
      if (attempt === 1 && !rv) rv = opts.informer.get(view.namespace, view.name)?.metadata.resourceVersion;
      if (attempt > 1 || !rv) {
        try {
          const fresh = (await api.getNamespacedCustomObject({ ...g, namespace: view.namespace, name: view.name })) as ProfilingSessionObject;
          if (fresh.metadata.uid !== view.id) return 'gone';
          rv = fresh.metadata.resourceVersion;
        } catch (err) {
          if (codeOf(err) === 404) return 'gone';
          log.warn({ err, session: view.id }, 'could not read the object before writing its status');
          await sleep(backoffDelay(backoff, attempt));
          continue;
        }
      }
      try {
        const res = (await api.patchNamespacedCustomObjectStatus(
          { ...g, namespace: view.namespace, name: view.name, body: { metadata: { uid: view.id, resourceVersion: rv }, status } },
          mergePatch,
        )) as ProfilingSessionObject;
        stats.writes++;
        track.written = text;
        track.rv = res.metadata?.resourceVersion;
        return 'written';
      } catch (err) {
        const code = codeOf(err);
        track.rv = undefined;
        if (code === 404) return 'gone';
        if (code === 409) {
          stats.conflicts++;
          log.debug({ session: view.id, attempt }, 'status write conflict; retrying with the latest resourceVersion');
          if (attempt > 1) await sleep(backoffDelay(backoff, attempt - 1));
          continue;
        }
        log.warn({ err, session: view.id, attempt }, 'status write failed');
        await sleep(backoffDelay(backoff, attempt));
      }
    }
    return 'failed';
  };

  const announce = async (track: Track, view: SessionView): Promise<void> => {
    const subject = { name: view.name, namespace: view.namespace, uid: view.id };
    const phase = view.status.phase;
    const complete = view.status.conditions.find((c) => c.type === CONDITION.types.complete);
    if (phase !== track.phase) {
      const previous = track.phase;
      track.phase = phase;
      if (phase === 'Running' && (previous === undefined || previous === 'Pending')) {
        await opts.events.record(subject, 'Normal', 'Started', complete?.message || `profiling the next ${view.spec.requests} "${view.spec.request}" requests`);
      } else if (phase === 'Completed') {
        await opts.events.record(subject, 'Normal', complete?.reason || 'Completed', `${view.status.progress} requests profiled. ${complete?.message ?? ''}`.trim());
      } else if (phase === 'Failed') {
        await opts.events.record(subject, 'Warning', complete?.reason || 'Failed', complete?.message || 'the session failed');
      }
    }
    const accepted = view.status.conditions.find((c) => c.type === CONDITION.types.specAccepted);
    if (accepted?.reason === CONDITION.reasons.SpecChangeRefused && track.refusedGeneration !== view.generation) {
      track.refusedGeneration = view.generation;
      await opts.events.record(subject, 'Warning', CONDITION.reasons.SpecChangeRefused, accepted.message);
    }
    // A request type no agent has reported: `kubectl describe` shows it as soon as the session is applied.
    const seen = view.status.conditions.find((c) => c.type === CONDITION.types.requestTypeSeen);
    if (seen?.status === 'False' && phase !== 'Failed' && track.unseenGeneration !== view.generation) {
      track.unseenGeneration = view.generation;
      await opts.events.record(subject, 'Warning', CONDITION.reasons.UnknownRequestType, seen.message);
    }
  };

  const drain = async (id: string, track: Track): Promise<void> => {
    do {
      track.dirty = false;
      const view = track.latest;
      const status = kubeStatus(view);
      const text = statusText(status);
      let outcome: 'written' | 'gone' | 'failed' | 'unchanged' = 'unchanged';
      if (text === track.written) stats.unchanged++;
      else outcome = await write(track, view, text, status);
      if (outcome === 'gone') {
        log.debug({ session: id }, 'object gone or replaced: status dropped');
        tracks.delete(id);
        return;
      }
      if (outcome === 'failed') {
        stats.failures++;
        if (!stopped) {
          log.warn({ session: id }, `status not written after ${maxAttempts} attempts; trying again later`);
          const cancel = clock.schedule(backoff.maxMs, () => {
            retries.delete(cancel);
            schedule(id, track.latest);
          });
          retries.add(cancel);
        }
        return;
      }
      await announce(track, view);
    } while (track.dirty && !stopped);
  };

  const schedule = (id: string, view: SessionView): void => {
    if (stopped) return;
    let track = tracks.get(id);
    if (!track) {
      // Seed the announced phase and the written status from what the object already shows: a restart
      // then neither repeats Events nor rewrites an equal status, and a status decided while no writer
      // listened (a session recovery ended) differs from the object's and is written, with its Event.
      const stored = opts.informer.get(view.namespace, view.name);
      const same = stored?.metadata.uid === view.id;
      track = {
        latest: view,
        dirty: false,
        ...(same && stored.status?.phase ? { phase: stored.status.phase } : {}),
        ...(same && stored.status ? { written: statusText(stored.status) } : {}),
      };
      tracks.set(id, track);
    }
    track.latest = view;
    if (track.busy) {
      track.dirty = true;
      return;
    }
    const t = track;
    t.busy = drain(id, t)
      .catch((err: unknown) => log.error({ err, session: id }, 'status writer failed'))
      .finally(() => {
        t.busy = undefined;
      });
  };

  const unsubscribe = engine.onStatus((view) => {
    if (view.source === 'kubernetes') schedule(view.id, view);
  });

  const idle = async (): Promise<void> => {
    for (;;) {
      const busy = [...tracks.values()].map((t) => t.busy).filter((b): b is Promise<void> => !!b);
      if (busy.length === 0) return;
      await Promise.all(busy);
    }
  };

  return {
    stats,
    idle,
    async stop() {
      stopped = true;
      unsubscribe();
      retries.forEach((c) => c());
      [...sleepers].forEach((wake) => wake());
      await idle();
    },
  };
}
