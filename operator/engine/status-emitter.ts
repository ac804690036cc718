import type { Logger } from 'pino';
import { SondeError } from '../../src/errors.js';
import { statusHotspots } from '../../src/model/hotspots.js';
import { formatInterval, sampleIntervalOf } from '../../src/export/options.js';
import type { SessionView } from '../../src/session/types.js';
import type { Clock } from '../clock.js';
import type { SqliteStore } from '../store/sqlite-store.js';
import { storeCondition } from '../store/store-health.js';
import { type Run, isTerminal, viewOf } from './session-run.js';

/** What the emitter needs of the store. */
export type EmitterStore = Pick<SqliteStore, 'saveSession' | 'tree'> & Partial<Pick<SqliteStore, 'roots'>>;

/**
 * Persists and announces session statuses: phase and condition changes at once, progress-only changes
 * at most every `statusIntervalMs` per session, hotspots recomputed at most every `hotspotIntervalMs`
 * while running. Every view goes to the store first, then to the `onStatus` listeners.
 */
export class StatusEmitter {
  private readonly listeners = new Set<(view: SessionView) => void>();
  closed = false;

  constructor(
    private readonly store: EmitterStore,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly baseURL: string,
    private readonly statusIntervalMs: number,
    private readonly hotspotIntervalMs: number,
  ) {}

  onStatus(listener: (view: SessionView) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  view(run: Run): SessionView {
    const view = viewOf(run, this.baseURL);
    // A store that cannot write shows on every running session (the engine re-emits them on each change).
    const health = (this.store as Partial<Pick<SqliteStore, 'storeHealth'>>).storeHealth?.();
    const full = health && !isTerminal(run) ? storeCondition(health, run.observedGeneration) : undefined;
    if (full) view.status.conditions.push(full);
    return view;
  }

  /** Marks the status changed: emitted now when `urgent` or when the last emission is old enough, else soon. */
  touch(run: Run, urgent = false): void {
    if (this.closed) return;
    const now = this.clock.now();
    const due = run.lastEmit + this.statusIntervalMs;
    if (urgent || now >= due) return this.emit(run);
    run.cancelEmit ??= this.clock.schedule(due - now, () => {
      run.cancelEmit = undefined;
      this.safely(() => this.emit(run));
    });
  }

  /** Emits a pending throttled status now (at close and before a run leaves memory). */
  flush(run: Run): void {
    if (!run.cancelEmit) return;
    run.cancelEmit();
    this.emit(run);
  }

  emit(run: Run): void {
    run.cancelEmit?.();
    run.cancelEmit = undefined;
    const now = this.clock.now();
    run.lastEmit = now;
    if (run.hotspotsStale && (isTerminal(run) || now - run.hotspotsAt >= this.hotspotIntervalMs)) {
      run.hotspotsStale = false;
      run.hotspotsAt = now;
      try {
        const tree = this.store.tree(run.id);
        // Files relative to the roots the session's agents reported, as the UI shows them (source-path.ts).
        run.hotspots = statusHotspots(tree, 5, undefined, this.store.roots?.(run.id));
        const us = sampleIntervalOf(tree);
        if (us !== undefined) run.sampleInterval = formatInterval(us);
      } catch (err) {
        this.log.error({ err, session: run.id }, 'hotspots could not be computed');
      }
    } else if (run.hotspotsStale && !run.cancelEmit) {
      // Come back when hotspots may be recomputed, so the last batch of a quiet session shows up.
      run.cancelEmit = this.clock.schedule(run.hotspotsAt + this.hotspotIntervalMs - now, () => {
        run.cancelEmit = undefined;
        this.safely(() => this.emit(run));
      });
    }
    const view = this.view(run);
    try {
      this.store.saveSession(view);
    } catch (err) {
      // A full store is logged once by the store itself (and shown as a condition): not per emission.
      const full = err instanceof SondeError && err.code === 'SONDE_STORE_FULL';
      this.log[full ? 'debug' : 'error']({ err, session: run.id }, 'session status could not be stored');
    }
    this.announce(view);
  }

  /** Tells the listeners of a view that is already stored (a session not in memory). */
  announce(view: SessionView): void {
    for (const l of this.listeners) this.safely(() => l(view));
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err }, 'status emission failed');
    }
  }
}
