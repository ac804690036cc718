import type { Logger } from 'pino';
import { SondeError } from '../../src/errors.js';
import type { PodIdentity, RequestRecord, SessionEndReason, StartMessage } from '../../src/protocol/messages.js';
import { CONDITION, type SessionView } from '../../src/session/types.js';
import { describeProblems, resolveSpec, selectorMatches } from '../../src/session/validate.js';
import { workloadFromPodName } from '../../src/session/workload.js';
import { type Clock, systemClock } from '../clock.js';
import type { AgentConnection, AgentReport } from '../hub/agent-connection.js';
import type { HubListener } from '../hub/agent-hub.js';
import type { SqliteStore } from '../store/sqlite-store.js';
import { CatalogueQueue } from './catalogue-queue.js';
import type { PodDirectory, SessionEngine, SessionInput } from './contracts.js';
import { tookPartIn, withLateEnded, withLateRequests } from './late-reports.js';
import { type PodEvent, isSampling, podTransition } from './pod-part.js';
import { readinessOf, whyNoPods } from './readiness.js';
import { recoveredRun } from './recovery.js';
import { type LifeEvent, lifeTransition, takesAgents } from './session-life.js';
import { type PodRun, type Run, conditionOf, displaySpec, isTerminal, perPodLimit, sameSpec, setCondition } from './session-run.js';
import { StatusEmitter } from './status-emitter.js';

/** The part of the agent hub the engine uses (the AgentHub class has it; tests may pass their own). */
export interface EngineHub {
  setListener(listener: HubListener): void;
  agentsIn(namespace: string): Iterable<AgentConnection>;
  agentFor(pod: Pick<PodIdentity, 'namespace' | 'name'>): AgentConnection | undefined;
  start(agent: AgentConnection, message: StartMessage): boolean;
  stop(agent: AgentConnection, session: string, reason: SessionEndReason): boolean;
  forget(agent: AgentConnection, session: string): void;
  /** Takes a claim from hello: the connection may report on the session. */
  grant(agent: AgentConnection, session: string): void;
  /** Refuses a claim from hello: reports on the session are dropped. */
  refuse(agent: AgentConnection, session: string): void;
  /** Acknowledges a `requests` batch (to agents that asked for acks); `retryAfterMs` when it was not stored. */
  ack(agent: AgentConnection, session: string, seq: number, retryAfterMs?: number): boolean;
}

/** The part of the store the engine writes and reads. */
export type EngineStore = Pick<SqliteStore, 'saveSession' | 'getSession' | 'listSessions' | 'addRequests' | 'podCounts' | 'tree' | 'saveCatalogue' | 'deleteSession'>;

export interface EngineOptions {
  /** Least time between two status emissions of one session, except phase changes. Default 250 ms (≤ 4/s). */
  statusIntervalMs?: number;
  /** Least time between two recomputations of a running session's top hotspots. Default 2 s. */
  hotspotIntervalMs?: number;
  /** How long a finished session stays in memory to take late in-flight requests. Default 60 s. */
  lingerMs?: number;
  /** Catalogue snapshots are written to the store in batches at this interval. Default 5 s. */
  catalogueFlushMs?: number;
  /** After a restart, resume running sessions whose deadline is ahead (default). False ends them (OperatorRestarted). */
  resumeOnRestart?: boolean;
  /** A batch the store could not write is asked again after this long (`ack.retryAfterMs`). Default 1 s. */
  storeRetryMs?: number;
}

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

const R = CONDITION.reasons;
const T = CONDITION.types;

/** Store errors that a resend cannot cure: the batch itself is bad. */
const FINAL_STORE_ERRORS = new Set(['SONDE_BAD_MESSAGE', 'SONDE_TREE_TOO_LARGE', 'SONDE_NOT_FOUND']);

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
  private readonly hub: EngineHub;
  private readonly store: EngineStore;
  private readonly pods: PodDirectory;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly opts: Required<EngineOptions>;
  private readonly runs = new Map<string, Run>();
  /** Sessions that take agents (Pending, Running) by namespace: the ones an arriving agent may join. */
  private readonly active = new Map<string, Set<Run>>();
  private readonly lingering = new Map<string, () => void>();
  /** Sessions whose view went to the listeners since this engine started (see `apply`). */
  private readonly handedOver = new Set<string>();
  private readonly status: StatusEmitter;
  private readonly catalogue: CatalogueQueue;
  private stopDirectory: (() => void) | undefined;
  private closed = false;
  /** Resolves once recovery ran and the hub hands agents to the engine. */
  readonly ready: Promise<void>;

  constructor(deps: EngineDeps) {
    this.hub = deps.hub;
    this.store = deps.store;
    this.pods = deps.podDirectory;
    this.log = deps.log.child({ module: 'engine' });
    this.clock = deps.clock ?? systemClock;
    this.opts = { statusIntervalMs: 250, hotspotIntervalMs: 2000, lingerMs: 60_000, catalogueFlushMs: 5000, resumeOnRestart: true, storeRetryMs: 1000, ...deps.options };
    this.status = new StatusEmitter(this.store, this.clock, this.log, deps.baseURL, this.opts.statusIntervalMs, this.opts.hotspotIntervalMs);
    this.catalogue = new CatalogueQueue(this.store, this.clock, this.log, this.opts.catalogueFlushMs, (agent) => ({
      workload: this.workloadOf(agent),
      labels: this.pods.labelsOf(agent.pod) ?? agent.labels,
    }));
    if (deps.podsSynced) {
      this.ready = deps.podsSynced.then(
        () => this.begin(),
        (err: unknown) => this.log.error({ err }, 'the pod directory never synced: sessions are not recovered'),
      );
    } else {
      this.begin();
      this.ready = Promise.resolve();
    }
  }

  private begin(): void {
    if (this.closed) return;
    this.recover();
    this.hub.setListener(this);
    this.stopDirectory = this.pods.onChange((pod) => this.safely('pod change', () => this.podChanged(pod)));
  }

  // ───────────── SessionEngine ─────────────

  apply(input: SessionInput): SessionView {
    const view = this.applyInput(input);
    // The first apply of a session in this engine's life hands its view to the listeners even when
    // nothing changed: a status decided before any listener subscribed (recovery ends sessions whose
    // deadline passed while the operator was down) must still reach the object.
    if (!this.handedOver.has(input.id)) {
      this.handedOver.add(input.id);
      this.status.announce(view);
    }
    return view;
  }

  private applyInput(input: SessionInput): SessionView {
    const run = this.runs.get(input.id);
    if (run) {
      if (input.generation !== run.generation) this.edit(run, input);
      return this.status.view(run);
    }
    const stored = this.store.getSession(input.id);
    if (stored && input.generation !== stored.generation && failedForSpec(stored)) {
      // A session refused for its spec never ran: a fixed spec starts it, as when it is still in memory.
      return this.status.view(this.create(input));
    }
    if (stored) return this.applyToStored(stored, input);
    return this.status.view(this.create(input));
  }

  remove(id: string): void {
    const run = this.runs.get(id);
    if (run) {
      if (!isTerminal(run)) this.finish(run, 'Completed', R.Deleted, `deleted with ${run.count} requests profiled; results stay in the store`);
      return;
    }
    const stored = this.store.getSession(id);
    if (stored && stored.status.phase !== 'Completed' && stored.status.phase !== 'Failed') {
      // Not in memory yet still running in the store: only possible if recovery skipped it; end it there.
      stored.status.phase = 'Completed';
      stored.status.completedAt = new Date(this.clock.now()).toISOString();
      this.store.saveSession(stored);
    }
  }

  /**
   * Drops a session from memory at once, ending it first if it runs. For purging its stored results
   * (`DELETE …?purge=true`): without it a lingering run would write the session back on its next emit.
   */
  forget(id: string): void {
    const run = this.runs.get(id);
    if (!run) return;
    if (!isTerminal(run)) this.finish(run, 'Completed', R.Deleted, `deleted with ${run.count} requests profiled; results purged`);
    this.lingering.get(id)?.();
    this.lingering.delete(id);
    run.cancelEmit?.();
    run.cancelEmit = undefined;
    this.deactivate(run);
    this.release(run);
    this.runs.delete(id);
  }

  /** `forget` and delete everything stored for the session. False if there was no such session. */
  purge(id: string): boolean {
    const known = this.runs.has(id);
    this.forget(id);
    return this.store.deleteSession(id) || known;
  }

  get(id: string): SessionView | undefined {
    const run = this.runs.get(id);
    return run ? this.status.view(run) : this.store.getSession(id);
  }

  list(): SessionView[] {
    return this.store.listSessions().map((v) => {
      const run = this.runs.get(v.id);
      return run ? this.status.view(run) : v;
    });
  }

  onStatus(listener: (view: SessionView) => void): () => void {
    return this.status.onStatus(listener);
  }

  /** Stops timers and flushes pending writes. The hub and store belong to the caller and stay open. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopDirectory?.();
    for (const run of this.runs.values()) {
      run.cancelDeadline?.();
      this.status.flush(run);
    }
    this.status.closed = true;
    for (const cancel of this.lingering.values()) cancel();
    this.catalogue.flush();
  }

  // ───────────── HubListener ─────────────

  connected(agent: AgentConnection): void {
    this.catalogue.add(agent, agent.catalogue);
    for (const run of this.active.get(agent.pod.namespace) ?? []) {
      this.consider(run, agent);
      this.refreshWaiting(run);
    }
    // The sessions hello claims (still running here, or ended with results held) are decided one by one:
    // taken from a pod that took part (in the session's own namespace), refused from anyone else.
    const running = new Set(agent.claimed);
    for (const session of new Set([...agent.claimed, ...agent.ended])) this.decideClaim(agent, session, running.has(session));
  }

  report(agent: AgentConnection, message: AgentReport): void {
    switch (message.type) {
      case 'catalogue':
        return this.catalogue.add(agent, message.entries);
      case 'requests':
        return this.onRequests(agent, message.session, message.seq, message.requests);
      case 'progress':
        return this.onProgress(agent, message.session, message.requests + message.inFlight, message.samples);
      case 'ended':
        return this.onEnded(agent, message.session, message.reason, message.error);
      case 'error':
        this.log.warn({ pod: podName(agent.pod), session: message.session, code: message.code, reason: message.message }, 'agent reported an error');
        if (message.session && message.code === 'SONDE_SAMPLER_FAILED') this.onEnded(agent, message.session, 'error', message.message);
        return;
    }
  }

  disconnected(agent: AgentConnection): void {
    for (const run of this.active.get(agent.pod.namespace) ?? []) this.refreshWaiting(run);
    for (const run of this.runs.values()) {
      const pr = this.boundPart(run, agent);
      if (!pr) continue;
      const was = pr.state;
      this.podEvent(pr, { type: 'disconnected', conn: agent.id });
      if (was === pr.state) continue;
      this.updateReadiness(run);
      this.finishWhenStopped(run);
      this.status.touch(run, true);
    }
  }

  // ───────────── claims ─────────────

  /**
   * A session claimed in hello. Taken (granted) when the pod took part: its part is bound to this
   * connection (unless `consider` just started it on it), so its reports are taken. Refused otherwise:
   * another namespace, a pod that never took part, an unknown session. A refused or finished session the
   * agent still runs gets a `stop`.
   */
  private decideClaim(agent: AgentConnection, session: string, stillRunning: boolean): void {
    const run = this.runs.get(session);
    if (run) {
      const pr = this.partOf(run, agent);
      if (!pr) {
        this.log.warn({ session, pod: podName(agent.pod) }, 'claim refused: the pod is not part of the session');
        this.hub.refuse(agent, session);
        if (stillRunning) this.hub.stop(agent, session, 'stopped');
        return;
      }
      if (pr.conn !== agent.id) {
        this.bind(pr, agent);
        this.podEvent(pr, { type: 'adopted', conn: agent.id });
        this.hub.grant(agent, session);
        this.updateReadiness(run);
        this.status.touch(run, true);
      }
      if (stillRunning && (isTerminal(run) || run.life === 'Stopping' || pr.state !== 'Sampling')) {
        this.hub.stop(agent, session, isTerminal(run) || run.life === 'Stopping' ? 'stopped' : 'requests');
      }
      return;
    }
    if (tookPartIn(this.store.getSession(session), agent)) {
      this.hub.grant(agent, session);
    } else {
      this.log.warn({ session, pod: podName(agent.pod) }, 'claim refused: unknown session or a pod that took no part');
      this.hub.refuse(agent, session);
    }
    if (stillRunning) this.hub.stop(agent, session, 'stopped');
  }

  // ───────────── reports ─────────────

  private onProgress(agent: AgentConnection, session: string, taken: number, samples: number): void {
    const run = this.runs.get(session);
    const pr = run && this.boundPart(run, agent);
    if (!run || !pr) return;
    if (pr.claimedPid !== agent.agent.pid) {
      pr.claimedPid = agent.agent.pid;
      pr.claimed = 0;
    }
    pr.claimed = Math.max(pr.claimed ?? 0, taken);
    if (samples > pr.samples) {
      pr.samples = samples;
      this.status.touch(run);
    }
    this.stopWhenClaimed(run);
  }

  private onRequests(agent: AgentConnection, sessionId: string, seq: number, records: RequestRecord[]): void {
    const run = this.runs.get(sessionId);
    if (!run) return this.lateRequests(agent, sessionId, seq, records);
    const pr = this.boundPart(run, agent);
    if (!pr) {
      this.log.warn({ session: sessionId, pod: podName(agent.pod) }, 'requests from a connection not bound to a pod of the session: dropped');
      this.hub.ack(agent, sessionId, seq);
      return;
    }
    if (pr.pid === agent.agent.pid && seq <= pr.lastSeq) {
      this.log.debug({ session: sessionId, pod: podName(agent.pod), seq }, 'duplicate requests batch dropped');
      this.hub.ack(agent, sessionId, seq);
      return;
    }
    const wanted = records.filter((r) => r.type === run.resolved?.request);
    if (wanted.length < records.length) {
      this.log.warn({ session: sessionId, pod: podName(agent.pod), dropped: records.length - wanted.length }, 'requests of another type dropped');
    }
    const added = wanted.length === 0 ? [] : this.storeRequests(agent, run.id, seq, wanted);
    if (!added) return;
    // Only now is the batch seen: the high-water mark moves over contiguous stored batches only.
    if (pr.pid !== agent.agent.pid) {
      pr.pid = agent.agent.pid;
      pr.lastSeq = 0;
    }
    if (seq === pr.lastSeq + 1) pr.lastSeq = seq;
    this.hub.ack(agent, sessionId, seq);
    if (added.length === 0) return;
    run.count += added.length;
    pr.requests += added.length;
    pr.samples += added.reduce((s, r) => s + r.samples, 0);
    run.hotspotsStale = true;
    const target = run.resolved?.requests ?? Infinity;
    if (!isTerminal(run) && run.count >= target) {
      this.finish(run, 'Completed', R.RequestsReached, `${run.count} requests profiled (asked ${target})`);
    } else {
      this.status.touch(run);
    }
  }

  /** Requests for a session no longer in memory (ended before a restart, or lingered out): kept if the pod took part. */
  private lateRequests(agent: AgentConnection, sessionId: string, seq: number, records: RequestRecord[]): void {
    const stored = this.store.getSession(sessionId);
    if (!stored || !tookPartIn(stored, agent)) {
      this.log.warn({ session: sessionId, pod: podName(agent.pod) }, 'requests for an unknown session: dropped');
      this.hub.ack(agent, sessionId, seq);
      return;
    }
    const added = this.storeRequests(agent, sessionId, seq, records.filter((r) => r.type === stored.spec.request));
    if (!added) return;
    this.hub.ack(agent, sessionId, seq);
    if (added.length === 0) return;
    this.saveStored(withLateRequests(stored, agent.pod.name, added));
  }

  /**
   * Writes a batch. Undefined when the store failed and the batch should come again (the agent was
   * told, with `ack.retryAfterMs`); an empty list when it was refused for good (a bad batch: acknowledged).
   */
  private storeRequests(agent: AgentConnection, sessionId: string, seq: number, records: RequestRecord[]): RequestRecord[] | undefined {
    const source = { pod: agent.pod.name, workload: this.workloadOf(agent), pid: agent.agent.pid };
    try {
      return this.store.addRequests(sessionId, source, records);
    } catch (err) {
      const final = err instanceof SondeError && FINAL_STORE_ERRORS.has(err.code);
      this.log[final ? 'warn' : 'error']({ err, session: sessionId, pod: source.pod, seq }, final ? 'requests refused by the store' : 'requests not stored; the agent is asked to resend');
      if (final) return [];
      // Agents without acks cannot resend: for them the batch is lost, as before acks existed.
      this.hub.ack(agent, sessionId, seq, this.opts.storeRetryMs);
      return undefined;
    }
  }

  private onEnded(agent: AgentConnection, sessionId: string, reason: SessionEndReason, error: string | undefined): void {
    const run = this.runs.get(sessionId);
    if (!run) {
      const stored = this.store.getSession(sessionId);
      if (stored && tookPartIn(stored, agent)) {
        const changed = withLateEnded(stored, agent.pod.name, reason, error);
        if (changed) this.saveStored(changed);
      }
      return;
    }
    const pr = this.boundPart(run, agent);
    if (!pr) return;
    this.podEvent(pr, reason === 'error' ? { type: 'ended', conn: agent.id, error: error ?? '' } : { type: 'ended', conn: agent.id });
    if (!isTerminal(run)) {
      const all = [...run.pods.values()];
      if (run.count === 0 && all.every((p) => p.state === 'Failed')) {
        this.finish(run, 'Failed', R.SamplerFailed, `the sampler failed on every pod: ${all[0]?.message ?? ''}`);
        return;
      }
      this.updateReadiness(run);
      this.finishWhenStopped(run);
    }
    this.status.touch(run, true);
  }

  private saveStored(view: SessionView): void {
    try {
      this.store.saveSession(view);
    } catch (err) {
      this.log.error({ err, session: view.id }, 'session status could not be stored');
    }
    this.status.announce(view);
  }

  // ───────────── pods ─────────────

  /** The pod's part in `run`, if the agent's pod is in the session's namespace and took part. */
  private partOf(run: Run, agent: AgentConnection): PodRun | undefined {
    if (agent.pod.namespace !== run.namespace) return undefined;
    return run.pods.get(agent.pod.name);
  }

  /** The pod's part if `agent` is the connection bound to it: the only one whose reports are taken. */
  private boundPart(run: Run, agent: AgentConnection): PodRun | undefined {
    const pr = this.partOf(run, agent);
    return pr && pr.conn === agent.id ? pr : undefined;
  }

  private podEvent(pr: PodRun, event: PodEvent): void {
    const next = podTransition(pr, event);
    if (next === pr) return;
    pr.state = next.state;
    pr.conn = next.conn;
    if (next.message === undefined) delete pr.message;
    else pr.message = next.message;
  }

  /** Records the process and incarnation of the connection now bound to the part. */
  private bind(pr: PodRun, agent: AgentConnection): void {
    if (pr.pid !== agent.agent.pid) {
      pr.pid = agent.agent.pid;
      pr.lastSeq = 0;
    }
    pr.uid = agent.pod.uid;
  }

  // ───────────── lifecycle ─────────────

  private lifeEvent(run: Run, event: LifeEvent): boolean {
    const next = lifeTransition(run.life, event);
    if (next === run.life) return false;
    run.life = next;
    return true;
  }

  private create(input: SessionInput): Run {
    const run: Run = {
      id: input.id,
      name: input.name,
      namespace: input.namespace,
      source: input.source,
      createdAt: input.createdAt,
      generation: input.generation,
      spec: {} as Run['spec'],
      resolved: undefined,
      deadline: 0,
      life: 'Pending',
      conditions: [],
      observedGeneration: input.generation,
      pods: new Map(),
      count: 0,
      hotspots: [],
      hotspotsStale: false,
      hotspotsAt: 0,
      lastEmit: 0,
    };
    this.runs.set(run.id, run);
    this.accept(run, input.spec);
    return run;
  }

  /** Validates a spec and, if it is good, starts waiting for (and fanning out to) agents. */
  private accept(run: Run, spec: unknown): void {
    const now = this.clock.now();
    const result = resolveSpec(spec);
    if (!result.ok) {
      run.spec = (spec && typeof spec === 'object' ? structuredClone(spec) : {}) as Run['spec'];
      run.resolved = undefined;
      this.lifeEvent(run, { type: 'specInvalid' });
      run.completedAt = new Date(now).toISOString();
      const message = describeProblems(result.problems);
      setCondition(run, T.specAccepted, 'False', R.InvalidSpec, message, now);
      setCondition(run, T.ready, 'False', R.InvalidSpec, 'the spec is invalid', now);
      setCondition(run, T.complete, 'True', R.InvalidSpec, message, now);
      this.log.warn({ session: run.id, problems: result.problems }, 'invalid session spec');
      this.status.touch(run, true);
      this.linger(run);
      return;
    }
    this.lingering.get(run.id)?.();
    this.lingering.delete(run.id);
    run.resolved = result.spec;
    run.spec = displaySpec(result.spec);
    const created = Date.parse(run.createdAt);
    run.deadline = (Number.isFinite(created) ? created : now) + result.spec.durationMs;
    this.lifeEvent(run, { type: 'specAccepted' });
    run.completedAt = undefined;
    setCondition(run, T.specAccepted, 'True', R.Accepted, `profiling the next ${result.spec.requests} "${result.spec.request}" requests`, now);
    setCondition(run, T.complete, 'False', R.Started, `ends at ${result.spec.requests} requests or at ${new Date(run.deadline).toISOString()}`, now);
    this.activate(run);
    this.fanOut(run);
    this.status.touch(run, true);
  }

  /**
   * A new generation of a session the engine runs. The rule (ADR 0002): a spec is applied while the
   * session has not started sampling (Pending, or Invalid); once an agent has been started, a changed
   * spec is refused with SpecChangeRefused and the session goes on with the spec it started with. An
   * edit that resolves to the same spec is accepted silently (metadata-only edits).
   */
  private edit(run: Run, input: SessionInput): void {
    const now = this.clock.now();
    run.generation = input.generation;
    run.observedGeneration = input.generation;
    const notStarted = (run.life === 'Pending' && run.pods.size === 0) || run.life === 'Invalid';
    if (notStarted) {
      this.deactivate(run);
      run.conditions = run.conditions.filter((c) => c.type === T.specAccepted);
      this.accept(run, input.spec);
      return;
    }
    const next = resolveSpec(input.spec);
    if (next.ok && run.resolved && sameSpec(next.spec, run.resolved)) {
      setCondition(run, T.specAccepted, 'True', R.Accepted, conditionOf(run, T.specAccepted)?.message ?? '', now);
    } else {
      const why = next.ok ? 'the session has started sampling' : `the new spec is invalid (${describeProblems(next.problems)})`;
      setCondition(run, T.specAccepted, 'False', R.SpecChangeRefused, `spec change refused: ${why}; it goes on with the spec it started with. Delete and re-create it to change it`, now);
    }
    this.status.touch(run, true);
  }

  /** A finished session is never run again; a changed spec on it is recorded as refused. */
  private applyToStored(stored: SessionView, input: SessionInput): SessionView {
    if (input.generation === stored.generation) return stored;
    const now = new Date(this.clock.now()).toISOString();
    stored.generation = input.generation;
    stored.status.observedGeneration = input.generation;
    const cond = stored.status.conditions.find((c) => c.type === T.specAccepted);
    const message = 'spec change refused: the session has finished; create a new session to profile again';
    if (cond) {
      if (cond.status !== 'False') cond.lastTransitionTime = now;
      Object.assign(cond, { status: 'False', reason: R.SpecChangeRefused, message, observedGeneration: input.generation });
    } else {
      stored.status.conditions.push({ type: T.specAccepted, status: 'False', reason: R.SpecChangeRefused, message, lastTransitionTime: now, observedGeneration: input.generation });
    }
    this.store.saveSession(stored);
    this.status.announce(stored);
    this.handedOver.add(stored.id);
    return stored;
  }

  /** Ends a session: stops its agents, records why, and lets it linger for late in-flight requests. */
  private finish(run: Run, phase: 'Completed' | 'Failed', reason: string, message: string): void {
    if (!this.lifeEvent(run, { type: 'ended', phase })) return;
    const now = this.clock.now();
    this.deactivate(run);
    run.completedAt = new Date(now).toISOString();
    setCondition(run, T.complete, 'True', reason, message, now);
    setCondition(run, T.ready, 'False', reason, message, now);
    const stopReason: SessionEndReason = reason === R.RequestsReached ? 'requests' : reason === R.DeadlineExceeded ? 'deadline' : 'stopped';
    for (const pr of run.pods.values()) {
      if (!isSampling(pr)) continue;
      const agent = this.connectionOf(run, pr);
      if (agent) this.hub.stop(agent, run.id, stopReason);
      this.podEvent(pr, { type: 'sessionEnded' });
    }
    run.hotspotsStale = true;
    this.log.info({ session: run.id, name: `${run.namespace}/${run.name}`, phase, reason, requests: run.count }, 'session ended');
    this.status.touch(run, true);
    this.linger(run);
  }

  /**
   * N across pods, without waiting for records: once the agents have taken N matching requests between
   * them, every agent is told to stop (Running → Stopping). Each reports what it took, then `ended`; the
   * session completes when the stored count reaches N or no pod is still sampling (`finishWhenStopped`).
   */
  private stopWhenClaimed(run: Run): void {
    const target = run.resolved?.requests;
    if (target === undefined || run.life !== 'Running') return;
    let taken = 0;
    for (const pr of run.pods.values()) taken += Math.max(pr.requests, pr.claimed ?? 0);
    if (taken < target) return;
    this.lifeEvent(run, { type: 'tookN' });
    this.deactivateJoining(run);
    this.log.info({ session: run.id, taken, target }, 'agents took N requests between them: stopping them');
    for (const pr of run.pods.values()) {
      if (!isSampling(pr)) continue;
      const agent = this.connectionOf(run, pr);
      if (agent) this.hub.stop(agent, run.id, 'requests');
    }
  }

  /** In Stopping: completes the session once no pod is still sampling. */
  private finishWhenStopped(run: Run): void {
    if (run.life !== 'Stopping') return;
    for (const pr of run.pods.values()) if (isSampling(pr)) return;
    this.finish(run, 'Completed', R.RequestsReached, `${run.count} requests profiled (asked ${run.resolved?.requests ?? run.count})`);
  }

  /** The open connection bound to a pod's part, if it is still open. */
  private connectionOf(run: Run, pr: PodRun): AgentConnection | undefined {
    if (!pr.conn) return undefined;
    const agent = this.hub.agentFor({ namespace: run.namespace, name: pr.name });
    return agent && agent.id === pr.conn ? agent : undefined;
  }

  private linger(run: Run): void {
    this.lingering.get(run.id)?.();
    this.lingering.set(
      run.id,
      this.clock.schedule(this.opts.lingerMs, () => {
        this.lingering.delete(run.id);
        if (!isTerminal(run)) return;
        this.status.flush(run);
        this.release(run);
        this.runs.delete(run.id);
      }),
    );
  }

  /** The session leaves memory: its connections stop taking reports on it (the store's late path takes over after a reconnect). */
  private release(run: Run): void {
    for (const pr of run.pods.values()) {
      const agent = this.connectionOf(run, pr);
      if (agent) this.hub.forget(agent, run.id);
    }
  }

  private activate(run: Run): void {
    let set = this.active.get(run.namespace);
    if (!set) this.active.set(run.namespace, (set = new Set()));
    set.add(run);
    run.cancelDeadline?.();
    run.cancelDeadline = this.clock.schedule(run.deadline - this.clock.now(), () => this.safely('deadline', () => this.deadlineReached(run)));
  }

  /** No agent joins any more (Stopping); the deadline still holds. */
  private deactivateJoining(run: Run): void {
    const set = this.active.get(run.namespace);
    set?.delete(run);
    if (set?.size === 0) this.active.delete(run.namespace);
  }

  private deactivate(run: Run): void {
    this.deactivateJoining(run);
    run.cancelDeadline?.();
    run.cancelDeadline = undefined;
  }

  private deadlineReached(run: Run): void {
    run.cancelDeadline = undefined;
    if (isTerminal(run)) return;
    const target = run.resolved?.requests ?? 0;
    if (run.count > 0 || run.pods.size > 0) {
      this.finish(run, 'Completed', R.DeadlineExceeded, `deadline reached with partial results: ${run.count} of ${target} requests profiled`);
    } else {
      const ready = conditionOf(run, T.ready);
      const reason = ready?.reason === R.NoMatchingPods ? R.NoMatchingPods : R.NoAgents;
      this.finish(run, 'Failed', reason, `deadline reached and no request was profiled: ${ready?.message ?? 'no agent matched'}`);
    }
  }

  // ───────────── fan-out ─────────────

  /** Starts the session's agents in its namespace that match (fan-out), then reports readiness. */
  private fanOut(run: Run): void {
    for (const agent of this.hub.agentsIn(run.namespace)) this.consider(run, agent, false);
    this.updateReadiness(run);
  }

  /**
   * Starts `run` on `agent` if its pod belongs: its labels match the selector, or it already took part
   * (a reconnect resumes whatever the labels say now). `alreadyReported` carries the pod's stored count so
   * the per-pod cap holds across reconnects.
   */
  private consider(run: Run, agent: AgentConnection, report = true): void {
    const spec = run.resolved;
    if (!spec || !takesAgents(run.life) || agent.pod.namespace !== run.namespace) return;
    const pr = run.pods.get(agent.pod.name);
    if (pr?.conn === agent.id) return;
    if (!pr) {
      const labels = this.pods.labelsOf(agent.pod);
      if (!labels || !selectorMatches(spec.selector, labels)) return;
    }
    const limit = perPodLimit(spec);
    if (pr && pr.requests >= limit) return;
    const already = pr?.requests ?? 0;
    const sent = this.hub.start(agent, {
      type: 'start',
      session: run.id,
      request: spec.request,
      maxRequests: limit,
      deadline: run.deadline,
      sampleIntervalMs: spec.sampleIntervalMs,
      ...(already > 0 ? { alreadyReported: already } : {}),
    });
    if (!sent) return;
    let part = pr;
    if (!part) {
      part = { name: agent.pod.name, uid: agent.pod.uid, conn: undefined, pid: agent.agent.pid, lastSeq: 0, state: 'Pending', requests: 0, samples: 0 };
      run.pods.set(part.name, part);
    }
    this.bind(part, agent);
    this.podEvent(part, { type: 'started', conn: agent.id });
    if (this.lifeEvent(run, { type: 'agentStarted' })) run.startedAt = new Date(this.clock.now()).toISOString();
    if (report) {
      this.updateReadiness(run);
      this.status.touch(run, true);
    }
  }

  private updateReadiness(run: Run): void {
    if (!run.resolved || isTerminal(run)) return;
    const r = readinessOf(run, () => whyNoPods(run, this.pods, (ns) => this.hub.agentsIn(ns)));
    setCondition(run, T.ready, r.status, r.reason, r.message, this.clock.now());
  }

  private podChanged(pod: PodIdentity): void {
    const agent = this.hub.agentFor(pod);
    for (const run of this.active.get(pod.namespace) ?? []) {
      if (agent) this.consider(run, agent);
      this.refreshWaiting(run);
    }
  }

  /** A session no pod has joined yet re-explains why (NoAgents / NoMatchingPods) when agents or pods change. */
  private refreshWaiting(run: Run): void {
    if (run.pods.size > 0) return;
    const before = conditionOf(run, T.ready);
    const was = `${before?.reason}|${before?.message}`;
    this.updateReadiness(run);
    const after = conditionOf(run, T.ready);
    if (`${after?.reason}|${after?.message}` !== was) this.status.touch(run);
  }

  /** The pod's workload: the directory's (owner) where it knows, else from the pod name or `workload` label. */
  private workloadOf(agent: AgentConnection): string {
    return this.pods.workloadFor?.(agent.pod) ?? workloadFromPodName(agent.pod.name, this.pods.labelsOf(agent.pod) ?? agent.labels);
  }

  // ───────────── restart ─────────────

  /**
   * Loads the sessions a previous operator left running (after the pod directory synced). Those whose
   * deadline is ahead resume: their pods wait as Lost until their agents reconnect or match again. The
   * others end now with what they stored: DeadlineExceeded if the deadline passed while the operator was
   * down, OperatorRestarted if resuming is switched off. Either way they stay in memory for the linger,
   * so agents that reconnect with results held for them are bound to their pods and heard.
   */
  private recover(): void {
    const now = this.clock.now();
    for (const stored of this.store.listSessions({ terminal: false })) {
      const run = recoveredRun(stored, this.store.podCounts(stored.id), now);
      this.runs.set(run.id, run);
      const resolved = resolveSpec(stored.spec);
      if (!resolved.ok) {
        this.finish(run, 'Failed', R.InvalidSpec, describeProblems(resolved.problems));
        continue;
      }
      run.resolved = resolved.spec;
      const created = Date.parse(run.createdAt);
      run.deadline = (Number.isFinite(created) ? created : now) + resolved.spec.durationMs;
      const partial = `${run.count} of ${resolved.spec.requests} requests profiled`;
      const something = run.count > 0 || run.pods.size > 0;
      if (run.deadline <= now) {
        this.finish(run, something ? 'Completed' : 'Failed', R.DeadlineExceeded, `the deadline passed while the operator was down; partial results: ${partial}`);
      } else if (!this.opts.resumeOnRestart) {
        this.finish(run, something ? 'Completed' : 'Failed', R.OperatorRestarted, `the operator restarted; partial results: ${partial}`);
      } else if (run.count >= resolved.spec.requests) {
        this.finish(run, 'Completed', R.RequestsReached, `${run.count} requests profiled (asked ${resolved.spec.requests})`);
      } else {
        this.log.info({ session: run.id, requests: run.count }, 'resuming session after restart');
        if (run.life === 'Stopping') run.life = 'Running';
        this.activate(run);
        this.fanOut(run);
        this.updateReadiness(run);
        this.status.touch(run, true);
      }
    }
  }

  private safely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err }, `${what} failed`);
    }
  }
}

function failedForSpec(view: SessionView): boolean {
  return view.status.phase === 'Failed' && view.status.conditions.some((c) => c.type === T.specAccepted && c.reason === R.InvalidSpec);
}

function podName(pod: PodIdentity): string {
  return `${pod.namespace}/${pod.name}`;
}
