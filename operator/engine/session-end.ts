import type { SessionEndReason } from '../../src/protocol/messages.js';
import { connectionOf, podEvent } from './bound-parts.js';
import { type EngineCore, R, T, safely } from './engine-core.js';
import { isSampling } from './pod-part.js';
import { lifeEvent } from './spec-apply.js';
import { type Run, conditionOf, isTerminal, setCondition } from './session-run.js';
import { knownList, knownTypes, typeUnseen } from './request-type-seen.js';
import { endMessage, nothingProfiled } from './session-outcome.js';

/** How sessions end: N (taken, then stored), the deadline, a delete; the linger that follows. */

/** Ends a session: stops its agents, records why, and lets it linger for late in-flight requests. */
export function finish(core: EngineCore, run: Run, phase: 'Completed' | 'Failed', reason: string, message: string, readyReason = reason, stopReason: SessionEndReason = stopReasonOf(reason)): void {
  if (!lifeEvent(core, run, { type: 'ended', phase })) return;
  const now = core.clock.now();
  deactivate(core, run);
  run.completedAt = new Date(now).toISOString();
  setCondition(run, T.complete, 'True', reason, message, now);
  setCondition(run, T.ready, 'False', readyReason, message, now);
  for (const pr of run.pods.values()) {
    if (!isSampling(pr)) continue;
    const agent = connectionOf(core, run, pr);
    if (agent) core.hub.stop(agent, run.id, stopReason);
    podEvent(core, run, pr, { type: 'sessionEnded' });
  }
  run.hotspotsStale = true;
  core.log.info({ session: run.id, name: `${run.namespace}/${run.name}`, phase, reason, requests: run.count }, 'session ended');
  core.status.touch(run, true);
  linger(core, run);
}

/** What agents are told when a session ends for `reason` (a Complete condition reason). */
function stopReasonOf(reason: string): SessionEndReason {
  return reason === R.RequestsReached ? 'requests' : reason === R.DeadlineExceeded ? 'deadline' : 'stopped';
}

/**
 * N across pods, without waiting for records: once the agents have taken N matching requests between
 * them, every agent is told to stop (Running → Stopping). Each reports what it took, then `ended`; the
 * session completes when the stored count reaches N or no pod is still sampling (`finishWhenStopped`).
 */
export function stopWhenClaimed(core: EngineCore, run: Run): void {
  const target = run.resolved?.requests;
  if (target === undefined || run.life !== 'Running') return;
  // The running total (taken-total.ts), kept on every report: no pass over the parts per message.
  const taken = run.taken;
  if (taken < target) return;
  lifeEvent(core, run, { type: 'tookN' });
  deactivateJoining(core, run);
  core.log.info({ session: run.id, taken, target, capsLeft: run.capsLeft }, 'agents took N requests between them: stopping them');
  for (const pr of run.pods.values()) {
    if (!isSampling(pr)) continue;
    const agent = connectionOf(core, run, pr);
    if (agent) core.hub.stop(agent, run.id, 'requests');
  }
}

/** In Stopping: completes the session once no pod is still sampling. */
export function finishWhenStopped(core: EngineCore, run: Run): void {
  if (run.life !== 'Stopping') return;
  for (const pr of run.pods.values()) if (isSampling(pr)) return;
  finish(core, run, 'Completed', R.RequestsReached, endMessage(R.RequestsReached, run.count, run.resolved?.requests ?? run.count)!);
}

export function linger(core: EngineCore, run: Run): void {
  core.lingering.get(run.id)?.();
  core.lingering.set(
    run.id,
    core.clock.schedule(core.opts.lingerMs, () => {
      core.lingering.delete(run.id);
      if (!isTerminal(run)) return;
      core.status.flush(run);
      release(core, run);
      core.runs.delete(run.id);
    }),
  );
}

/** The session leaves memory: its connections stop taking reports on it (the store's late path takes over after a reconnect). */
export function release(core: EngineCore, run: Run): void {
  for (const pr of run.pods.values()) {
    const agent = connectionOf(core, run, pr);
    if (agent) core.hub.forget(agent, run.id);
  }
}

export function activate(core: EngineCore, run: Run): void {
  let set = core.active.get(run.namespace);
  if (!set) core.active.set(run.namespace, (set = new Set()));
  set.add(run);
  run.cancelDeadline?.();
  run.cancelDeadline = core.clock.schedule(run.deadline - core.clock.now(), () => safely(core, 'deadline', () => deadlineReached(core, run)));
}

/** No agent joins any more (Stopping); the deadline still holds. */
export function deactivateJoining(core: EngineCore, run: Run): void {
  const set = core.active.get(run.namespace);
  set?.delete(run);
  if (set?.size === 0) core.active.delete(run.namespace);
}

export function deactivate(core: EngineCore, run: Run): void {
  deactivateJoining(core, run);
  run.cancelDeadline?.();
  run.cancelDeadline = undefined;
}

export function deadlineReached(core: EngineCore, run: Run): void {
  run.cancelDeadline = undefined;
  if (isTerminal(run)) return;
  const target = run.resolved?.requests ?? 0;
  if (somethingTaken(run)) {
    finish(core, run, 'Completed', R.DeadlineExceeded, endMessage(R.DeadlineExceeded, run.count, target)!);
  } else {
    // Nothing profiled, but the agents are still told the truth: the deadline ended it.
    endWithNothing(core, run, '', 'deadline');
  }
}

/**
 * Something was profiled: requests stored, or taken by an agent (its `progress` said so) and still on
 * their way. Only a session with neither ends "nothing profiled".
 */
export function somethingTaken(run: Run): boolean {
  if (run.count > 0) return true;
  for (const pr of run.pods.values()) if ((pr.claimed ?? 0) > 0) return true;
  return false;
}

/** Ends a session that profiled nothing: Failed, `Complete` True/NothingProfiled, `Ready` False with the cause. */
export function endWithNothing(core: EngineCore, run: Run, prefix: string, stopReason: SessionEndReason = 'stopped'): void {
  const request = run.resolved?.request ?? run.spec.request;
  const unseen = typeUnseen(run) ? { known: knownList(knownTypes(core, run.namespace)) } : undefined;
  const ready = conditionOf(run, T.ready);
  const n = nothingProfiled({ podsStarted: run.pods.size, request, ...(ready ? { ready } : {}), ...(unseen ? { unseenType: unseen } : {}) });
  finish(core, run, 'Failed', R.NothingProfiled, prefix + n.message, n.readyReason, stopReason);
}

/**
 * Requests taken before the end of a session that ended "nothing profiled" arrived after it (a restart
 * ended it before the agents delivered): it did profile something, so it shows Completed with its count.
 */
export function lateResults(core: EngineCore, run: Run): void {
  if (run.count === 0 || conditionOf(run, T.complete)?.reason !== R.NothingProfiled) return;
  if (!lifeEvent(core, run, { type: 'lateResults' })) return;
  const message = endMessage(R.DeadlineExceeded, run.count, run.resolved?.requests ?? 0)!;
  const now = core.clock.now();
  setCondition(run, T.complete, 'True', R.DeadlineExceeded, message, now);
  setCondition(run, T.ready, 'False', R.DeadlineExceeded, message, now);
}
