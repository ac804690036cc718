import type { Logger } from 'pino';
import { SondeError } from '../../src/errors.js';
import { statusHotspots } from '../../src/model/hotspots.js';
import type { PodIdentity, RequestRecord, RequestTypeStats, SessionEndReason, StartMessage } from '../../src/protocol/messages.js';
import { CONDITION, type SessionView } from '../../src/session/types.js';
import { describeProblems, resolveSpec, selectorMatches } from '../../src/session/validate.js';
import { workloadFromPodName } from '../../src/session/workload.js';
import { type Clock, systemClock } from '../clock.js';
import type { AgentConnection, AgentReport } from '../hub/agent-connection.js';
import type { HubListener } from '../hub/agent-hub.js';
import type { CatalogueSnapshot, SqliteStore } from '../store/sqlite-store.js';
import { storeCondition } from '../store/store-health.js';
import type { PodDirectory, SessionEngine, SessionInput } from './contracts.js';
import {
  type PodRun,
  type Run,
  conditionOf,
  displaySpec,
  isTerminal,
  perPodLimit,
  sameSpec,
  setCondition,
  viewOf,
} from './session-run.js';

/** The part of the agent hub the engine uses (the AgentHub class has it; tests may pass their own). */
export interface EngineHub {
  setListener(listener: HubListener): void;
  agentsIn(namespace: string): Iterable<AgentConnection>;
  agentFor(pod: Pick<PodIdentity, 'namespace' | 'name'>): AgentConnection | undefined;
  start(agent: AgentConnection, message: StartMessage): boolean;
  stop(agent: AgentConnection, session: string, reason: SessionEndReason): boolean;
  forget(agent: AgentConnection, session: string): void;
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
}

const R = CONDITION.reasons;
const T = CONDITION.types;

/**
 * Runs sessions: validates specs, fans `start` out to the connected agents of matching pods, stores
 * the requests they stream back, stops every agent at N or at the deadline, and reports status. The
 * lifecycle rules are written down in docs/adr/0002-session-lifecycle.md.
 *
 * Decisions read only the engine's own memory and the store, never a status written back by a source.
 * Construction registers with the hub and recovers the sessions that were running before a restart.
 */
export class Engine implements SessionEngine, HubListener {
  private readonly hub: EngineHub;
  private readonly store: EngineStore;
  private readonly pods: PodDirectory;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly baseURL: string;
  private readonly opts: Required<EngineOptions>;
  private readonly runs = new Map<string, Run>();
  /** Running (non-terminal, valid) sessions by namespace: the ones an arriving agent may join. */
  private readonly active = new Map<string, Set<Run>>();
  private readonly listeners = new Set<(view: SessionView) => void>();
  private readonly lingering = new Map<string, () => void>();
  private readonly catalogueQueue = new Map<string, CatalogueSnapshot>();
  private cancelCatalogueFlush: (() => void) | undefined;
  private readonly stopDirectory: () => void;
  private readonly stopStoreHealth: () => void;
  private closed = false;

  constructor(deps: EngineDeps) {
    this.hub = deps.hub;
    this.store = deps.store;
    this.pods = deps.podDirectory;
    this.log = deps.log.child({ module: 'engine' });
    this.clock = deps.clock ?? systemClock;
    this.baseURL = deps.baseURL;
    this.opts = {
      statusIntervalMs: 250,
      hotspotIntervalMs: 2000,
      lingerMs: 60_000,
      catalogueFlushMs: 5000,
      resumeOnRestart: true,
      ...deps.options,
    };
    this.recover();
    this.hub.setListener(this);
    this.stopDirectory = this.pods.onChange((pod) => this.safely('pod change', () => this.podChanged(pod)));
    // A store that cannot write shows on every running session (see view()); each transition re-emits them once.
    const health = this.store as Partial<Pick<SqliteStore, 'onStoreHealth'>>;
    this.stopStoreHealth =
      health.onStoreHealth?.(() => {
        for (const run of this.runs.values()) if (!isTerminal(run.phase)) this.safely('store health', () => this.touch(run, true));
      }) ?? (() => {});
  }

  // ───────────── SessionEngine ─────────────

  apply(input: SessionInput): SessionView {
    const run = this.runs.get(input.id);
    if (run) {
      if (input.generation === run.generation) return this.view(run);
      this.edit(run, input);
      return this.view(run);
    }
    const stored = this.store.getSession(input.id);
    if (stored && input.generation !== stored.generation && failedForSpec(stored)) {
      // A session refused for its spec never ran: a fixed spec starts it, as when it is still in memory.
      return this.view(this.create(input));
    }
    if (stored) return this.applyToStored(stored, input);
    return this.view(this.create(input));
  }

  remove(id: string): void {
    const run = this.runs.get(id);
    if (run) {
      if (!isTerminal(run.phase)) this.finish(run, 'Completed', R.Deleted, `deleted with ${run.count} requests profiled; results stay in the store`);
      return;
    }
    const stored = this.store.getSession(id);
    if (stored && !isTerminal(stored.status.phase)) {
      // Not in memory yet still running in the store: only possible if recovery skipped it; end it there.
      stored.status.phase = 'Completed';
      stored.status.completedAt = new Date(this.clock.now()).toISOString();
      this.store.saveSession(stored);
    }
  }

  /**
   * Drops a session from memory at once, ending it first if it runs. For purging its stored results
   * (`DELETE …?purge=true`): without it a lingering run would write the session back on its next emit.
   * (Added by the REST API's purge.)
   */
  forget(id: string): void {
    const run = this.runs.get(id);
    if (!run) return;
    if (!isTerminal(run.phase)) this.finish(run, 'Completed', R.Deleted, `deleted with ${run.count} requests profiled; results purged`);
    this.lingering.get(id)?.();
    this.lingering.delete(id);
    run.cancelEmit?.();
    run.cancelEmit = undefined;
    run.cancelDeadline?.();
    this.deactivate(run);
    for (const pr of run.pods.values()) {
      const agent = this.hub.agentFor({ namespace: run.namespace, name: pr.name });
      if (agent) this.hub.forget(agent, id);
    }
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
    return run ? this.view(run) : this.store.getSession(id);
  }

  list(): SessionView[] {
    return this.store.listSessions().map((v) => {
      const run = this.runs.get(v.id);
      return run ? this.view(run) : v;
    });
  }

  onStatus(listener: (view: SessionView) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Stops timers and flushes pending writes. The hub and store belong to the caller and stay open. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopDirectory();
    this.stopStoreHealth();
    for (const run of this.runs.values()) {
      run.cancelDeadline?.();
      if (run.cancelEmit) {
        run.cancelEmit();
        this.emit(run);
      }
    }
    for (const cancel of this.lingering.values()) cancel();
    this.cancelCatalogueFlush?.();
    this.flushCatalogue();
  }

  // ───────────── HubListener ─────────────

  connected(agent: AgentConnection): void {
    this.queueCatalogue(agent, agent.catalogue);
    for (const run of this.active.get(agent.pod.namespace) ?? []) {
      this.consider(run, agent);
      this.refreshWaiting(run);
    }
    // Sessions the agent still runs from before a reconnect but that it should not (ended, unknown, or
    // a pod that is not part of them) are stopped; resumed ones got a fresh `start` just above.
    for (const session of agent.claimed) {
      const run = this.runs.get(session);
      if (!run || isTerminal(run.phase) || run.pods.get(agent.pod.name)?.agentId !== agent.id) this.hub.stop(agent, session, 'stopped');
    }
  }

  report(agent: AgentConnection, message: AgentReport): void {
    switch (message.type) {
      case 'catalogue':
        return this.queueCatalogue(agent, message.entries);
      case 'requests':
        return this.onRequests(agent, message.session, message.seq, message.requests);
      case 'progress': {
        const pr = this.podOf(message.session, agent);
        if (!pr) return;
        if (pr.claimedPid !== agent.agent.pid) {
          pr.claimedPid = agent.agent.pid;
          pr.claimed = 0;
        }
        pr.claimed = Math.max(pr.claimed ?? 0, message.requests + message.inFlight);
        if (message.samples > pr.samples) {
          pr.samples = message.samples;
          this.touch(this.runs.get(message.session)!);
        }
        this.stopWhenClaimed(this.runs.get(message.session)!);
        return;
      }
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
      if (run.namespace !== agent.pod.namespace) continue;
      const pr = run.pods.get(agent.pod.name);
      if (!pr || pr.agentId !== agent.id || (pr.state !== 'Sampling' && pr.state !== 'Pending')) continue;
      pr.state = 'Lost';
      pr.message = 'the agent disconnected; its finished requests are kept';
      this.updateReadiness(run);
      this.finishWhenStopped(run);
      this.touch(run, true);
    }
  }

  /**
   * N across pods, without waiting for records: once the agents have taken N matching requests between
   * them, every agent is told to stop. Each reports what it took, then `ended`; the session completes
   * when the stored count reaches N or every stopped agent has ended (`finishWhenStopped`).
   */
  private stopWhenClaimed(run: Run): void {
    const target = run.resolved?.requests;
    if (target === undefined || run.stopping || isTerminal(run.phase)) return;
    let taken = 0;
    for (const pr of run.pods.values()) taken += Math.max(pr.requests, pr.claimed ?? 0);
    if (taken < target) return;
    run.stopping = true;
    this.log.info({ session: run.id, taken, target }, 'agents took N requests between them: stopping them');
    for (const pr of run.pods.values()) {
      if (pr.state !== 'Sampling' && pr.state !== 'Pending') continue;
      const agent = this.hub.agentFor({ namespace: run.namespace, name: pr.name });
      if (agent && agent.id === pr.agentId) this.hub.stop(agent, run.id, 'requests');
    }
  }

  /** After `stopWhenClaimed`: completes the session once no pod is still sampling. */
  private finishWhenStopped(run: Run): void {
    if (!run.stopping || isTerminal(run.phase)) return;
    for (const pr of run.pods.values()) if (pr.state === 'Sampling' || pr.state === 'Pending') return;
    this.finish(run, 'Completed', R.RequestsReached, `${run.count} requests profiled (asked ${run.resolved?.requests ?? run.count})`);
  }

  // ───────────── lifecycle ─────────────

  private create(input: SessionInput): Run {
    const now = this.clock.now();
    const run: Run = {
      id: input.id,
      name: input.name,
      namespace: input.namespace,
      source: input.source,
      createdAt: input.createdAt,
      generation: input.generation,
      spec: input.spec as Run['spec'],
      resolved: undefined,
      deadline: now,
      phase: 'Pending',
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

  /** Validates a spec and, if it is good, starts (or restarts) the Pending session with it. */
  private accept(run: Run, rawSpec: unknown): void {
    const now = this.clock.now();
    const result = resolveSpec(rawSpec);
    if (!result.ok) {
      run.resolved = undefined;
      run.spec = (rawSpec ?? {}) as Run['spec'];
      const message = describeProblems(result.problems);
      setCondition(run, T.specAccepted, 'False', R.InvalidSpec, message, now);
      this.finish(run, 'Failed', R.InvalidSpec, message);
      return;
    }
    run.resolved = result.spec;
    run.spec = displaySpec(result.spec);
    const created = Date.parse(run.createdAt);
    run.deadline = (Number.isFinite(created) ? created : now) + result.spec.durationMs;
    run.phase = 'Pending';
    run.completedAt = undefined;
    setCondition(run, T.specAccepted, 'True', R.Accepted, `profiling the next ${result.spec.requests} "${result.spec.request}" requests`, now);
    setCondition(run, T.complete, 'False', R.Started, `ends at ${result.spec.requests} requests or at ${new Date(run.deadline).toISOString()}`, now);
    this.activate(run);
    this.fanOut(run);
    this.touch(run, true);
  }

  /**
   * A new generation of a session the engine runs. The rule (ADR 0002): a spec is applied while the
   * session has not started sampling (Pending, or Failed for an invalid spec); once an agent has been
   * started, a changed spec is refused with SpecChangeRefused and the session goes on with the spec it
   * started with. An edit that resolves to the same spec is accepted silently (metadata-only edits).
   */
  private edit(run: Run, input: SessionInput): void {
    const now = this.clock.now();
    run.generation = input.generation;
    run.observedGeneration = input.generation;
    const notStarted = (run.phase === 'Pending' && run.pods.size === 0) || (run.phase === 'Failed' && !run.resolved);
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
    this.touch(run, true);
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
    for (const l of this.listeners) this.safely('status listener', () => l(stored));
    return stored;
  }

  /** Ends a session: stops its agents, records why, and lets it linger for late in-flight requests. */
  private finish(run: Run, phase: 'Completed' | 'Failed', reason: string, message: string): void {
    if (isTerminal(run.phase)) return;
    const now = this.clock.now();
    run.cancelDeadline?.();
    run.cancelDeadline = undefined;
    this.deactivate(run);
    run.phase = phase;
    run.completedAt = new Date(now).toISOString();
    setCondition(run, T.complete, 'True', reason, message, now);
    setCondition(run, T.ready, 'False', reason, message, now);
    const stopReason: SessionEndReason = reason === R.RequestsReached ? 'requests' : reason === R.DeadlineExceeded ? 'deadline' : 'stopped';
    for (const pr of run.pods.values()) {
      if (pr.state !== 'Sampling' && pr.state !== 'Pending') continue;
      const agent = this.hub.agentFor({ namespace: run.namespace, name: pr.name });
      if (agent && agent.id === pr.agentId) this.hub.stop(agent, run.id, stopReason);
      pr.state = 'Done';
    }
    run.hotspotsStale = true;
    this.log.info({ session: run.id, name: `${run.namespace}/${run.name}`, phase, reason, requests: run.count }, 'session ended');
    this.touch(run, true);
    this.linger(run);
  }

  private linger(run: Run): void {
    this.lingering.get(run.id)?.();
    this.lingering.set(
      run.id,
      this.clock.schedule(this.opts.lingerMs, () => {
        this.lingering.delete(run.id);
        if (!isTerminal(run.phase)) return;
        if (run.cancelEmit) {
          run.cancelEmit();
          this.emit(run);
        }
        for (const pr of run.pods.values()) {
          const agent = this.hub.agentFor({ namespace: run.namespace, name: pr.name });
          if (agent) this.hub.forget(agent, run.id);
        }
        this.runs.delete(run.id);
      }),
    );
  }

  private activate(run: Run): void {
    let set = this.active.get(run.namespace);
    if (!set) this.active.set(run.namespace, (set = new Set()));
    set.add(run);
    run.cancelDeadline?.();
    run.cancelDeadline = this.clock.schedule(run.deadline - this.clock.now(), () => this.safely('deadline', () => this.deadlineReached(run)));
  }

  private deactivate(run: Run): void {
    const set = this.active.get(run.namespace);
    set?.delete(run);
    if (set?.size === 0) this.active.delete(run.namespace);
    run.cancelDeadline?.();
    run.cancelDeadline = undefined;
  }

  private deadlineReached(run: Run): void {
    run.cancelDeadline = undefined;
    if (isTerminal(run.phase)) return;
    const target = run.resolved?.requests ?? 0;
    if (run.count > 0 || run.pods.size > 0) {
      this.finish(run, 'Completed', R.DeadlineExceeded, `deadline reached with partial results: ${run.count} of ${target} requests profiled`);
    } else {
      const ready = conditionOf(run, T.ready);
      const reason = ready?.reason === R.NoMatchingPods ? R.NoMatchingPods : R.NoAgents;
      this.finish(run, 'Failed', reason, `deadline reached and no request was profiled: ${ready?.message ?? 'no agent matched'}`);
    }
  }

  // ───────────── agents ─────────────

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
    if (!spec || isTerminal(run.phase) || run.stopping) return;
    let pr = run.pods.get(agent.pod.name);
    if (pr?.agentId === agent.id) return;
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
    if (!pr) {
      pr = { name: agent.pod.name, agentId: undefined, pid: agent.agent.pid, lastSeq: 0, state: 'Sampling', requests: 0, samples: 0 };
      run.pods.set(pr.name, pr);
    }
    if (pr.pid !== agent.agent.pid) {
      pr.pid = agent.agent.pid;
      pr.lastSeq = 0;
    }
    pr.agentId = agent.id;
    pr.state = 'Sampling';
    delete pr.message;
    if (run.phase === 'Pending') {
      run.phase = 'Running';
      run.startedAt = new Date(this.clock.now()).toISOString();
    }
    if (report) {
      this.updateReadiness(run);
      this.touch(run, true);
    }
  }

  /** The Ready condition from the pods' states (and, with none, why none). */
  private updateReadiness(run: Run): void {
    if (!run.resolved || isTerminal(run.phase)) return;
    const now = this.clock.now();
    const all = [...run.pods.values()];
    const sampling = all.filter((p) => p.state === 'Sampling').length;
    const lost = all.filter((p) => p.state === 'Lost').length;
    if (sampling > 0) {
      setCondition(run, T.ready, 'True', R.Sampling, `${sampling} of ${all.length} pods sampling`, now);
    } else if (all.length > 0 && lost === all.length) {
      setCondition(run, T.ready, 'False', R.AgentsLost, `all ${lost} agents disconnected; waiting for them to reconnect until the deadline`, now);
    } else if (all.length > 0) {
      setCondition(run, T.ready, 'False', lost ? R.AgentsLost : R.NoAgents, `no agent is sampling (${all.length - lost} done or failed, ${lost} lost); pods that match later join until the deadline`, now);
    } else {
      const { reason, message } = this.whyNoPods(run);
      setCondition(run, T.ready, 'False', reason, message, now);
    }
  }

  private whyNoPods(run: Run): { reason: string; message: string } {
    const selector = run.resolved!.selector;
    const sel = JSON.stringify(selector);
    if (this.pods.podsIn) {
      const matching = this.pods.podsIn(run.namespace).filter((p) => selectorMatches(selector, this.pods.labelsOf(p) ?? {}));
      if (matching.length === 0) return { reason: R.NoMatchingPods, message: `no pod in namespace ${run.namespace} matches the selector ${sel}` };
      return { reason: R.NoAgents, message: `${matching.length} pods match but none has a connected agent (is the pod annotated for injection?)` };
    }
    const agents = [...this.hub.agentsIn(run.namespace)];
    if (agents.length === 0) return { reason: R.NoAgents, message: `no agent is connected in namespace ${run.namespace}` };
    return { reason: R.NoMatchingPods, message: `none of the ${agents.length} agents in namespace ${run.namespace} matches the selector ${sel}` };
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
    if (`${after?.reason}|${after?.message}` !== was) this.touch(run);
  }

  private onRequests(agent: AgentConnection, sessionId: string, seq: number, records: RequestRecord[]): void {
    const run = this.runs.get(sessionId);
    const source = { pod: agent.pod.name, workload: this.workloadOf(agent), pid: agent.agent.pid };
    if (!run) return this.lateRequests(agent, sessionId, source, records);
    const pr = run.pods.get(agent.pod.name);
    if (!pr) {
      this.log.warn({ session: sessionId, pod: podName(agent.pod) }, 'requests from a pod that is not part of the session: dropped');
      return;
    }
    if (pr.pid === agent.agent.pid && seq <= pr.lastSeq) {
      this.log.debug({ session: sessionId, pod: podName(agent.pod), seq }, 'duplicate requests batch dropped');
      return;
    }
    pr.pid = agent.agent.pid;
    pr.lastSeq = seq;
    const wanted = records.filter((r) => r.type === run.resolved?.request);
    if (wanted.length < records.length) {
      this.log.warn({ session: sessionId, pod: podName(agent.pod), dropped: records.length - wanted.length }, 'requests of another type dropped');
    }
    if (wanted.length === 0) return;
    const added = this.storeRequests(run.id, source, wanted);
    if (added.length === 0) return;
    run.count += added.length;
    pr.requests += added.length;
    pr.samples += added.reduce((s, r) => s + r.samples, 0);
    run.hotspotsStale = true;
    const target = run.resolved?.requests ?? Infinity;
    if (!isTerminal(run.phase) && run.count >= target) {
      this.finish(run, 'Completed', R.RequestsReached, `${run.count} requests profiled (asked ${target})`);
    } else {
      this.touch(run);
    }
  }

  /** Requests for a session no longer in memory (ended before a restart, or lingered out): kept if the pod took part. */
  private lateRequests(agent: AgentConnection, sessionId: string, source: { pod: string; workload: string; pid: number }, records: RequestRecord[]): void {
    const stored = this.store.getSession(sessionId);
    const pod = stored?.status.pods.find((p) => p.name === agent.pod.name);
    if (!stored || !pod) {
      this.log.warn({ session: sessionId, pod: podName(agent.pod) }, 'requests for an unknown session: dropped');
      return;
    }
    const added = this.storeRequests(sessionId, source, records.filter((r) => r.type === stored.spec.request));
    if (added.length === 0) return;
    pod.requests += added.length;
    pod.samples += added.reduce((s, r) => s + r.samples, 0);
    stored.status.requestsProfiled += added.length;
    stored.status.progress = `${stored.status.requestsProfiled}/${stored.spec.requests}`;
    this.store.saveSession(stored);
    for (const l of this.listeners) this.safely('status listener', () => l(stored));
  }

  private storeRequests(sessionId: string, source: { pod: string; workload: string; pid: number }, records: RequestRecord[]): RequestRecord[] {
    try {
      return this.store.addRequests(sessionId, source, records);
    } catch (err) {
      const level = err instanceof SondeError && err.code !== 'SONDE_INTERNAL' ? 'warn' : 'error';
      this.log[level]({ err, session: sessionId, pod: source.pod }, 'requests refused by the store');
      return [];
    }
  }

  private onEnded(agent: AgentConnection, sessionId: string, reason: SessionEndReason, error: string | undefined): void {
    const run = this.runs.get(sessionId);
    const pr = run?.pods.get(agent.pod.name);
    if (!run || !pr || pr.agentId !== agent.id) return;
    if (reason === 'error') {
      pr.state = 'Failed';
      pr.message = error ?? 'the sampler failed';
    } else if (pr.state === 'Sampling' || pr.state === 'Pending') {
      pr.state = 'Done';
    }
    if (!isTerminal(run.phase)) {
      const all = [...run.pods.values()];
      if (run.count === 0 && all.every((p) => p.state === 'Failed')) {
        this.finish(run, 'Failed', R.SamplerFailed, `the sampler failed on every pod: ${all[0]?.message ?? ''}`);
        return;
      }
      this.updateReadiness(run);
      this.finishWhenStopped(run);
    }
    this.touch(run, true);
  }

  /** The pod's workload: the directory's (owner) where it knows, else from the pod name or `workload` label. */
  private workloadOf(agent: AgentConnection): string {
    return this.pods.workloadFor?.(agent.pod) ?? workloadFromPodName(agent.pod.name, this.pods.labelsOf(agent.pod) ?? agent.labels);
  }

  private podOf(sessionId: string, agent: AgentConnection): PodRun | undefined {
    const pr = this.runs.get(sessionId)?.pods.get(agent.pod.name);
    return pr && pr.agentId === agent.id ? pr : undefined;
  }

  // ───────────── status ─────────────

  private view(run: Run): SessionView {
    const view = viewOf(run, this.baseURL);
    const health = (this.store as Partial<Pick<SqliteStore, 'storeHealth'>>).storeHealth?.();
    const full = health && !isTerminal(run.phase) ? storeCondition(health, run.observedGeneration) : undefined;
    if (full) view.status.conditions.push(full);
    return view;
  }

  /** Marks the status changed: emitted now when `urgent` or when the last emission is old enough, else soon. */
  private touch(run: Run, urgent = false): void {
    if (this.closed) return;
    const now = this.clock.now();
    const due = run.lastEmit + this.opts.statusIntervalMs;
    if (urgent || now >= due) return this.emit(run);
    run.cancelEmit ??= this.clock.schedule(due - now, () => {
      run.cancelEmit = undefined;
      this.safely('status', () => this.emit(run));
    });
  }

  private emit(run: Run): void {
    run.cancelEmit?.();
    run.cancelEmit = undefined;
    const now = this.clock.now();
    run.lastEmit = now;
    if (run.hotspotsStale && (isTerminal(run.phase) || now - run.hotspotsAt >= this.opts.hotspotIntervalMs)) {
      run.hotspotsStale = false;
      run.hotspotsAt = now;
      try {
        run.hotspots = statusHotspots(this.store.tree(run.id));
      } catch (err) {
        this.log.error({ err, session: run.id }, 'hotspots could not be computed');
      }
    } else if (run.hotspotsStale && !run.cancelEmit) {
      // Come back when hotspots may be recomputed, so the last batch of a quiet session shows up.
      run.cancelEmit = this.clock.schedule(run.hotspotsAt + this.opts.hotspotIntervalMs - now, () => {
        run.cancelEmit = undefined;
        this.safely('status', () => this.emit(run));
      });
    }
    const view = this.view(run);
    try {
      this.store.saveSession(view);
    } catch (err) {
      this.log.error({ err, session: run.id }, 'session status could not be stored');
    }
    for (const l of this.listeners) this.safely('status listener', () => l(view));
  }

  // ───────────── catalogue ─────────────

  private queueCatalogue(agent: AgentConnection, entries: RequestTypeStats[]): void {
    const labels = this.pods.labelsOf(agent.pod) ?? agent.labels;
    this.catalogueQueue.set(podName(agent.pod), {
      pod: { ...agent.pod },
      workload: this.workloadOf(agent),
      labels: { ...labels },
      runtime: agent.agent.runtime,
      runtimeVersion: agent.agent.runtimeVersion,
      agentVersion: agent.agent.agentVersion,
      entries,
      updatedAt: this.clock.now(),
    });
    this.cancelCatalogueFlush ??= this.clock.schedule(this.opts.catalogueFlushMs, () => {
      this.cancelCatalogueFlush = undefined;
      this.flushCatalogue();
    });
  }

  private flushCatalogue(): void {
    const batch = [...this.catalogueQueue.values()];
    this.catalogueQueue.clear();
    this.safely('catalogue', () => this.store.saveCatalogue(batch));
  }

  // ───────────── restart ─────────────

  /**
   * Loads the sessions a previous operator left running. Those whose deadline is ahead resume: their
   * pods wait as Lost until their agents reconnect (hello lists the session) or match again. The others
   * end now with what they stored: DeadlineExceeded if the deadline passed while the operator was away,
   * OperatorRestarted if resuming is switched off.
   */
  private recover(): void {
    const now = this.clock.now();
    for (const stored of this.store.listSessions({ terminal: false })) {
      const counts = this.store.podCounts(stored.id);
      const run: Run = {
        id: stored.id,
        name: stored.name,
        namespace: stored.namespace,
        source: stored.source,
        createdAt: stored.createdAt,
        generation: stored.generation,
        spec: stored.spec,
        resolved: undefined,
        deadline: now,
        phase: stored.status.phase,
        conditions: stored.status.conditions.map((c) => ({ ...c })),
        observedGeneration: stored.status.observedGeneration ?? stored.generation,
        pods: new Map(),
        count: 0,
        hotspots: stored.status.hotspots ?? [],
        hotspotsStale: true,
        hotspotsAt: 0,
        lastEmit: 0,
      };
      if (stored.status.startedAt) run.startedAt = stored.status.startedAt;
      for (const p of stored.status.pods) {
        const c = counts.get(p.name) ?? { requests: 0, samples: 0 };
        const waiting = p.state === 'Sampling' || p.state === 'Pending';
        const pr: PodRun = { name: p.name, agentId: undefined, pid: -1, lastSeq: 0, state: waiting ? 'Lost' : p.state, requests: c.requests, samples: Math.max(c.samples, p.samples) };
        if (waiting) pr.message = 'the operator restarted; waiting for the agent to reconnect';
        else if (p.message) pr.message = p.message;
        run.pods.set(p.name, pr);
      }
      for (const [pod, c] of counts) {
        if (!run.pods.has(pod)) run.pods.set(pod, { name: pod, agentId: undefined, pid: -1, lastSeq: 0, state: 'Lost', requests: c.requests, samples: c.samples });
      }
      run.count = [...run.pods.values()].reduce((s, p) => s + p.requests, 0);
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
      if (run.deadline <= now) {
        this.finish(run, run.count > 0 || run.pods.size > 0 ? 'Completed' : 'Failed', R.DeadlineExceeded, `the deadline passed while the operator was down; partial results: ${partial}`);
      } else if (!this.opts.resumeOnRestart) {
        this.finish(run, run.count > 0 || run.pods.size > 0 ? 'Completed' : 'Failed', R.OperatorRestarted, `the operator restarted; partial results: ${partial}`);
      } else if (run.count >= resolved.spec.requests) {
        this.finish(run, 'Completed', R.RequestsReached, `${run.count} requests profiled (asked ${resolved.spec.requests})`);
      } else {
        this.log.info({ session: run.id, requests: run.count }, 'resuming session after restart');
        this.activate(run);
        this.fanOut(run);
        this.touch(run, true);
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
