import { SondeError } from '../../src/errors.js';
import type { RequestRecord, SessionEndReason } from '../../src/protocol/messages.js';
import type { SessionView } from '../../src/session/types.js';
import type { AgentConnection } from '../hub/agent-connection.js';
import { boundPart, bind, claimablePart, connectionOf, partKey, partsOfPod, podEvent, podTaken, podTookPart, workloadOf } from './bound-parts.js';
import type { PodRun, Run } from './session-run.js';
import { type EngineCore, R, podName } from './engine-core.js';
import { updateReadiness } from './fan-out.js';
import { tookPartIn, withLateEnded, withLateRequests } from './late-reports.js';
import { finish, finishWhenStopped, lateResults, stopWhenClaimed } from './session-end.js';
import { endMessage, recount } from './session-outcome.js';
import { markTypeSeen } from './request-type-seen.js';
import { isTerminal, perPodLimit } from './session-run.js';
import { recountPart } from './taken-total.js';
import { tightenCaps } from './credit.js';

/**
 * What agents say, and whether it is taken: hello's claims (granted to a pod that took part, refused to
 * anyone else), progress, requests (stored, then acknowledged; a store failure asks for a resend) and
 * `ended`. Only the connection bound to a pod's part is heard (bound-parts.ts).
 */

/** Store errors that a resend cannot cure: the batch itself is bad. */
const FINAL_STORE_ERRORS = new Set(['SONDE_BAD_MESSAGE', 'SONDE_TREE_TOO_LARGE', 'SONDE_NOT_FOUND']);

/**
 * A session claimed in hello. Taken (granted) when the pod took part: the process's part (a new one
 * for a process of the pod the engine had not met) is bound to this connection (unless `consider` just
 * started it on it), so its reports are taken. Refused otherwise:
 * another namespace, a pod that never took part, an unknown session. A refused or finished session the
 * agent still runs gets a `stop`.
 */
export function decideClaim(core: EngineCore, agent: AgentConnection, session: string, stillRunning: boolean): void {
  const run = core.runs.get(session);
  if (run) {
    const tookPart = podTookPart(run, agent);
    // Another incarnation of the pod (same name, another uid: a recreated pod) never held this part's results.
    const otherIncarnation = tookPart && agent.pod.uid !== '' && partsOfPod(run, agent.pod.name).some((p) => p.uid !== '' && p.uid !== agent.pod.uid);
    if (!tookPart || otherIncarnation) {
      core.log.warn({ session, pod: podName(agent.pod) }, 'claim refused: the pod is not part of the session');
      core.hub.refuse(agent, session);
      if (stillRunning) core.hub.stop(agent, session, 'stopped');
      return;
    }
    let pr = claimablePart(core, run, agent);
    if (!pr) {
      // A process of the pod the engine never started (it joined after the pod's part ended, or held a claim across a restart).
      pr = { name: agent.pod.name, uid: agent.pod.uid, conn: undefined, pid: agent.agent.pid, incarnation: '', lastSeq: 0, state: 'Lost', requests: 0, samples: 0 };
      run.pods.set(partKey(pr.name, pr.pid), pr);
    }
    if (pr.conn !== agent.id) {
      bind(core, pr, agent);
      podEvent(core, run, pr, { type: 'adopted', conn: agent.id });
      core.hub.grant(agent, session);
      updateReadiness(core, run);
      core.status.touch(run, true);
    }
    if (stillRunning && (isTerminal(run) || run.life === 'Stopping' || pr.state !== 'Sampling')) {
      core.hub.stop(agent, session, isTerminal(run) || run.life === 'Stopping' ? 'stopped' : 'requests');
    }
    return;
  }
  if (tookPartIn(core.store.getSession(session), agent)) {
    core.hub.grant(agent, session);
  } else {
    core.log.warn({ session, pod: podName(agent.pod) }, 'claim refused: unknown session or a pod that took no part');
    core.hub.refuse(agent, session);
  }
  if (stillRunning) core.hub.stop(agent, session, 'stopped');
}

export function onProgress(core: EngineCore, agent: AgentConnection, session: string, taken: number, samples: number): void {
  const run = core.runs.get(session);
  const pr = run && boundPart(core, run, agent);
  if (!run || !pr) return;
  pr.claimed = Math.max(pr.claimed ?? 0, taken);
  recountPart(run, pr);
  if (samples > pr.samples) {
    pr.samples = samples;
    core.status.touch(run);
  }
  stopPodAtCap(core, run, pr);
  stopWhenClaimed(core, run);
  tightenCaps(core, run);
}

export function onRequests(core: EngineCore, agent: AgentConnection, sessionId: string, seq: number, records: RequestRecord[]): void {
  const run = core.runs.get(sessionId);
  if (!run) return lateRequests(core, agent, sessionId, seq, records);
  const pr = boundPart(core, run, agent);
  if (!pr) {
    core.log.warn({ session: sessionId, pod: podName(agent.pod) }, 'requests from a connection not bound to a pod of the session: dropped');
    core.hub.ack(agent, sessionId, seq);
    return;
  }
  // `bind` reset lastSeq when this process incarnation was bound: sequence numbers are per incarnation.
  if (seq <= pr.lastSeq) {
    core.log.debug({ session: sessionId, pod: podName(agent.pod), seq }, 'duplicate requests batch dropped');
    core.hub.ack(agent, sessionId, seq);
    return;
  }
  const wanted = records.filter((r) => r.type === run.resolved?.request);
  if (wanted.length < records.length) {
    core.log.warn({ session: sessionId, pod: podName(agent.pod), dropped: records.length - wanted.length }, 'requests of another type dropped');
  }
  const added = wanted.length === 0 ? [] : storeRequests(core, agent, run.id, seq, wanted);
  if (!added) return;
  // Only now is the batch seen: the high-water mark moves over contiguous stored batches only.
  if (seq === pr.lastSeq + 1) pr.lastSeq = seq;
  core.hub.ack(agent, sessionId, seq);
  if (added.length === 0) return;
  run.count += added.length;
  pr.requests += added.length;
  recountPart(run, pr);
  pr.samples += added.reduce((s, r) => s + r.samples, 0);
  run.hotspotsStale = true;
  const seen = markTypeSeen(core, run);
  stopPodAtCap(core, run, pr);
  const target = run.resolved?.requests ?? Infinity;
  if (!isTerminal(run) && run.count >= target) {
    finish(core, run, 'Completed', R.RequestsReached, endMessage(R.RequestsReached, run.count, target)!);
  } else if (isTerminal(run)) {
    // Late requests (in flight at the stop): the end conditions name the same count as the status.
    lateResults(core, run);
    recount(run.conditions, run.count, run.resolved?.requests ?? 0);
    core.status.touch(run, true);
  } else {
    stopWhenClaimed(core, run);
    tightenCaps(core, run);
    core.status.touch(run, seen);
  }
}

/**
 * The per-pod cap (`maxRequestsPerPod`) counts all of a pod's processes: once they took it between them,
 * every one still sampling is told to stop. A pod of one process stops on its own at the cap it was given.
 */
function stopPodAtCap(core: EngineCore, run: Run, pr: PodRun): void {
  if (!run.resolved || isTerminal(run)) return;
  const parts = partsOfPod(run, pr.name);
  if (parts.length < 2 || podTaken(run, pr.name) < perPodLimit(run.resolved)) return;
  for (const p of parts) {
    if (p.state !== 'Sampling' || p.capStopped) continue;
    const agent = connectionOf(core, run, p);
    if (agent && core.hub.stop(agent, run.id, 'requests')) p.capStopped = true;
  }
}

/** Requests for a session no longer in memory (ended before a restart, or lingered out): kept if the pod took part. */
export function lateRequests(core: EngineCore, agent: AgentConnection, sessionId: string, seq: number, records: RequestRecord[]): void {
  const stored = core.store.getSession(sessionId);
  if (!stored || !tookPartIn(stored, agent)) {
    core.log.warn({ session: sessionId, pod: podName(agent.pod) }, 'requests for an unknown session: dropped');
    core.hub.ack(agent, sessionId, seq);
    return;
  }
  const added = storeRequests(core, agent, sessionId, seq, records.filter((r) => r.type === stored.spec.request));
  if (!added) return;
  core.hub.ack(agent, sessionId, seq);
  if (added.length === 0) return;
  saveStored(core, withLateRequests(stored, agent.pod.name, added));
}

/**
 * Writes a batch. Undefined when the store failed and the batch should come again (the agent was
 * told, with `ack.retryAfterMs`); an empty list when it was refused for good (a bad batch: acknowledged).
 */
export function storeRequests(core: EngineCore, agent: AgentConnection, sessionId: string, seq: number, records: RequestRecord[]): RequestRecord[] | undefined {
  const source = { pod: agent.pod.name, workload: workloadOf(core, agent), pid: agent.agent.pid, root: agent.agent.root };
  try {
    return core.store.addRequests(sessionId, source, records);
  } catch (err) {
    const final = err instanceof SondeError && FINAL_STORE_ERRORS.has(err.code);
    core.log[final ? 'warn' : 'error']({ err, session: sessionId, pod: source.pod, seq }, final ? 'requests refused by the store' : 'requests not stored; the agent is asked to resend');
    if (final) return [];
    // Agents without acks cannot resend: for them the batch is lost, as before acks existed.
    core.hub.ack(agent, sessionId, seq, core.opts.storeRetryMs);
    return undefined;
  }
}

export function onEnded(core: EngineCore, agent: AgentConnection, sessionId: string, reason: SessionEndReason, error: string | undefined): void {
  const run = core.runs.get(sessionId);
  if (!run) {
    const stored = core.store.getSession(sessionId);
    if (stored && tookPartIn(stored, agent)) {
      const changed = withLateEnded(stored, agent.pod.name, reason, error);
      if (changed) saveStored(core, changed);
    }
    return;
  }
  const pr = boundPart(core, run, agent);
  if (!pr) return;
  podEvent(core, run, pr, reason === 'error' ? { type: 'ended', conn: agent.id, error: error ?? '' } : { type: 'ended', conn: agent.id });
  if (!isTerminal(run)) {
    const all = [...run.pods.values()];
    if (run.count === 0 && all.every((p) => p.state === 'Failed')) {
      finish(core, run, 'Failed', R.SamplerFailed, `the sampler failed on every pod: ${all[0]?.message ?? ''}`);
      return;
    }
    updateReadiness(core, run);
    finishWhenStopped(core, run);
  }
  core.status.touch(run, true);
}

export function saveStored(core: EngineCore, view: SessionView): void {
  try {
    core.store.saveSession(view);
  } catch (err) {
    core.log.error({ err, session: view.id }, 'session status could not be stored');
  }
  core.status.announce(view);
}
