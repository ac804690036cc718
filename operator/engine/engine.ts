import type { Logger } from 'pino';
import type { SessionView } from '../../src/session/types.js';
import { systemClock, type Clock } from '../clock.js';
import type { AgentConnection, AgentReport } from '../hub/agent-connection.js';
import type { HubListener } from '../hub/agent-hub.js';
import { decideClaim, onEnded, onProgress, onRequests } from './agent-reports.js';
import { boundPart, podEvent, workloadOf } from './bound-parts.js';
import { CatalogueQueue } from './catalogue-queue.js';
import type { PodDirectory, SessionEngine, SessionInput } from './contracts.js';
import { type EngineCore, type EngineHub, type EngineOptions, type EngineStore, R, T, podName, safely } from './engine-core.js';
import { consider, podChanged, refreshWaiting, updateReadiness } from './fan-out.js';
import { recover } from './recover-sessions.js';
import { deactivate, finish, finishWhenStopped, release } from './session-end.js';
import { applyToStored, create, edit } from './spec-apply.js';
import { isTerminal } from './session-run.js';
import { StatusEmitter } from './status-emitter.js';
import { catalogueArrived } from './request-type-seen.js';
import { endMessage } from './session-outcome.js';
import type { SqliteStore } from '../store/sqlite-store.js';

export type { EngineHub, EngineOptions, EngineStore } from './engine-core.js';

export interface EngineDeps {
  hub: EngineHub;
  store: EngineStore;
  podDirectory: PodDirectory;
  log: Logger;
  /** Base of result URLs: `${baseURL}/#/sessions/${id}`. */
  baseURL: string;
  clock?: Clock;
  options?: EngineOptions;
  /**
   * Resolves when the pod directory is complete (the cluster's pod informer listed). Recovery and the
   * hub's connections wait for it, so pods are never judged against an empty cache. Without it, at once.
   */
  podsSynced?: Promise<void>;
}

/**
 * Runs sessions: validates specs, fans `start` out to the connected agents of matching pods, stores
 * the requests they stream back, stops every agent at N or at the deadline, and reports status. The
 * lifecycle rules are written down in docs/adr/0002-session-lifecycle.md; a session's state is a
 * `Life` (session-life.ts) and each pod's part in it a `PodPart` (pod-part.ts), changed only through
 * their transition functions.
 *
 * Pods are keyed by the session's namespace and their name, and reports are taken only from the
 * connection bound to the pod's part: no other pod, namespace or connection can write into a session.
 * Decisions read only the engine's own memory and the store, never a status written back by a source.
 */
export class Engine implements SessionEngine, HubListener {
  private readonly core: EngineCore;
  private stopDirectory: (() => void) | undefined;
  private stopStoreHealth: (() => void) | undefined;
  private closed = false;
  /** Resolves once recovery ran and the hub hands agents to the engine. */
  readonly ready: Promise<void>;

  constructor(deps: EngineDeps) {
    const log = deps.log.child({ module: 'engine' });
    const clock = deps.clock ?? systemClock;
    const opts: Required<EngineOptions> = { statusIntervalMs: 250, hotspotIntervalMs: 2000, lingerMs: 60_000, catalogueFlushMs: 5000, resumeOnRestart: true, storeRetryMs: 1000, ...deps.options };
    const core: EngineCore = {
      hub: deps.hub,
      store: deps.store,
      pods: deps.podDirectory,
      log,
      clock,
      opts,
      runs: new Map(),
      active: new Map(),
      lingering: new Map(),
      handedOver: new Set(),
      status: new StatusEmitter(deps.store, clock, log, deps.baseURL, opts.statusIntervalMs, opts.hotspotIntervalMs),
      catalogue: new CatalogueQueue(deps.store, clock, log, opts.catalogueFlushMs, (agent) => ({
        workload: workloadOf(core, agent),
        labels: deps.podDirectory.labelsOf(agent.pod) ?? agent.labels,
      })),
    };
    this.core = core;
    if (deps.podsSynced) {
      this.ready = deps.podsSynced.then(
        () => this.begin(),
        (err: unknown) => log.error({ err }, 'the pod directory never synced: sessions are not recovered'),
      );
    } else {
      this.begin();
      this.ready = Promise.resolve();
    }
  }

  private begin(): void {
    if (this.closed) return;
    recover(this.core);
    this.core.hub.setListener(this);
    this.stopDirectory = this.core.pods.onChange((pod) => safely(this.core, 'pod change', () => podChanged(this.core, pod)));
    // The store becoming unwritable (or writable again) changes every running session's conditions.
    const health = this.core.store as Partial<Pick<SqliteStore, 'onStoreHealth'>>;
    this.stopStoreHealth = health.onStoreHealth?.(() => {
      for (const run of this.core.runs.values()) if (!isTerminal(run)) safely(this.core, 'store health', () => this.core.status.touch(run, true));
    });
  }

  // ───────────── SessionEngine ─────────────

  apply(input: SessionInput): SessionView {
    const view = this.applyInput(input);
    // The first apply of a session in this engine's life hands its view to the listeners even when
    // nothing changed: a status decided before any listener subscribed (recovery ends sessions whose
    // deadline passed while the operator was down) must still reach the object.
    if (!this.core.handedOver.has(input.id)) {
      this.core.handedOver.add(input.id);
      this.core.status.announce(view);
    }
    return view;
  }

  private applyInput(input: SessionInput): SessionView {
    const run = this.core.runs.get(input.id);
    if (run) {
      if (input.generation !== run.generation) edit(this.core, run, input);
      return this.core.status.view(run);
    }
    const stored = this.core.store.getSession(input.id);
    if (stored && input.generation !== stored.generation && failedForSpec(stored)) {
      // A session refused for its spec never ran: a fixed spec starts it, as when it is still in memory.
      return this.core.status.view(create(this.core, input));
    }
    if (stored) return applyToStored(this.core, stored, input);
    return this.core.status.view(create(this.core, input));
  }

  remove(id: string): void {
    const run = this.core.runs.get(id);
    if (run) {
      if (!isTerminal(run)) finish(this.core, run, 'Completed', R.Deleted, endMessage(R.Deleted, run.count, run.resolved?.requests ?? 0)!);
      return;
    }
    const stored = this.core.store.getSession(id);
    if (stored && stored.status.phase !== 'Completed' && stored.status.phase !== 'Failed') {
      // Not in memory yet still running in the store: only possible if recovery skipped it; end it there.
      stored.status.phase = 'Completed';
      stored.status.completedAt = new Date(this.core.clock.now()).toISOString();
      this.core.store.saveSession(stored);
    }
  }

  /**
   * Drops a session from memory at once, ending it first if it runs. For purging its stored results
   * (`DELETE …?purge=true`): without it a lingering run would write the session back on its next emit.
   */
  forget(id: string): void {
    const run = this.core.runs.get(id);
    if (!run) return;
    if (!isTerminal(run)) finish(this.core, run, 'Completed', R.Deleted, `deleted with ${run.count} requests profiled; results purged`);
    this.core.lingering.get(id)?.();
    this.core.lingering.delete(id);
    run.cancelEmit?.();
    run.cancelEmit = undefined;
    deactivate(this.core, run);
    release(this.core, run);
    this.core.runs.delete(id);
  }

  /** `forget` and delete everything stored for the session. False if there was no such session. */
  purge(id: string): boolean {
    const known = this.core.runs.has(id);
    this.forget(id);
    return this.core.store.deleteSession(id) || known;
  }

  get(id: string): SessionView | undefined {
    const run = this.core.runs.get(id);
    return run ? this.core.status.view(run) : this.core.store.getSession(id);
  }

  list(): SessionView[] {
    return this.core.store.listSessions().map((v) => {
      const run = this.core.runs.get(v.id);
      return run ? this.core.status.view(run) : v;
    });
  }

  onStatus(listener: (view: SessionView) => void): () => void {
    return this.core.status.onStatus(listener);
  }

  /** Stops timers and flushes pending writes. The hub and store belong to the caller and stay open. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopDirectory?.();
    this.stopStoreHealth?.();
    for (const run of this.core.runs.values()) {
      run.cancelDeadline?.();
      this.core.status.flush(run);
    }
    this.core.status.closed = true;
    for (const cancel of this.core.lingering.values()) cancel();
    this.core.catalogue.flush();
  }

  // ───────────── HubListener ─────────────

  connected(agent: AgentConnection): void {
    this.core.catalogue.add(agent, agent.catalogue);
    catalogueArrived(this.core, agent.pod.namespace, agent.catalogue);
    for (const run of this.core.active.get(agent.pod.namespace) ?? []) {
      consider(this.core, run, agent);
      refreshWaiting(this.core, run);
    }
    // The sessions hello claims (still running here, or ended with results held) are decided one by one:
    // taken from a pod that took part (in the session's own namespace), refused from anyone else.
    const running = new Set(agent.claimed);
    for (const session of new Set([...agent.claimed, ...agent.ended])) decideClaim(this.core, agent, session, running.has(session));
  }

  report(agent: AgentConnection, message: AgentReport): void {
    switch (message.type) {
      case 'catalogue':
        catalogueArrived(this.core, agent.pod.namespace, message.entries);
        return this.core.catalogue.add(agent, message.entries);
      case 'requests':
        return onRequests(this.core, agent, message.session, message.seq, message.requests);
      case 'progress':
        return onProgress(this.core, agent, message.session, message.requests + message.inFlight, message.samples);
      case 'ended':
        return onEnded(this.core, agent, message.session, message.reason, message.error);
      case 'error':
        this.core.log.warn({ pod: podName(agent.pod), session: message.session, code: message.code, reason: message.message }, 'agent reported an error');
        if (message.session && message.code === 'SONDE_SAMPLER_FAILED') onEnded(this.core, agent, message.session, 'error', message.message);
        return;
    }
  }

  disconnected(agent: AgentConnection): void {
    for (const run of this.core.active.get(agent.pod.namespace) ?? []) refreshWaiting(this.core, run);
    for (const run of this.core.runs.values()) {
      const pr = boundPart(this.core, run, agent);
      if (!pr) continue;
      const was = pr.state;
      podEvent(this.core, run, pr, { type: 'disconnected', conn: agent.id });
      if (was === pr.state) continue;
      updateReadiness(this.core, run);
      finishWhenStopped(this.core, run);
      this.core.status.touch(run, true);
    }
  }
}

function failedForSpec(view: SessionView): boolean {
  return view.status.phase === 'Failed' && view.status.conditions.some((c) => c.type === T.specAccepted && c.reason === R.InvalidSpec);
}

