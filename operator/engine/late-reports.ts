import type { RequestRecord, SessionEndReason } from '../../src/protocol/messages.js';
import { CONDITION, type SessionView } from '../../src/session/types.js';
import { recount } from './session-outcome.js';
import type { AgentConnection } from '../hub/agent-connection.js';

/**
 * Whether the pod of `agent` took part in a stored session that is no longer in memory (it ended
 * before a restart, or lingered out): the session's namespace is the pod's, and its name is among the
 * session's pods. Only such a pod's late reports are kept (ADR 0002: no completed request is lost).
 */
export function tookPartIn(stored: SessionView | undefined, agent: AgentConnection): boolean {
  return !!stored && stored.namespace === agent.pod.namespace && stored.status.pods.some((p) => p.name === agent.pod.name);
}

/** The stored view after `added` late requests of the agent's pod: counts and progress move, a Lost pod is Done. */
export function withLateRequests(stored: SessionView, pod: string, added: readonly RequestRecord[]): SessionView {
  const p = stored.status.pods.find((x) => x.name === pod)!;
  p.requests += added.length;
  p.samples += added.reduce((s, r) => s + r.samples, 0);
  stored.status.requestsProfiled += added.length;
  stored.status.progress = `${stored.status.requestsProfiled}/${stored.spec.requests}`;
  const complete = stored.status.conditions.find((c) => c.type === CONDITION.types.complete);
  if (stored.status.phase === 'Failed' && complete?.reason === CONDITION.reasons.NothingProfiled) {
    // It did profile something after all (requests taken before the end): the outcome is partial results.
    stored.status.phase = 'Completed';
    for (const c of stored.status.conditions) if (c.type === CONDITION.types.complete || c.type === CONDITION.types.ready) c.reason = CONDITION.reasons.DeadlineExceeded;
  }
  // Every place names one count: the end conditions are reworded with the status's.
  recount(stored.status.conditions, stored.status.requestsProfiled, stored.spec.requests);
  return stored;
}

/** The stored view after a late `ended` of the pod: a pod left Lost by a restart is Done (Failed on an error). */
export function withLateEnded(stored: SessionView, pod: string, reason: SessionEndReason, error: string | undefined): SessionView | undefined {
  const p = stored.status.pods.find((x) => x.name === pod)!;
  if (p.state !== 'Lost' && p.state !== 'Sampling' && p.state !== 'Pending') return undefined;
  p.state = reason === 'error' ? 'Failed' : 'Done';
  if (reason === 'error') p.message = error ?? 'the sampler failed';
  else delete p.message;
  return stored;
}
