import { CONDITION, type Condition } from '../../src/session/types.js';

const R = CONDITION.reasons;

/**
 * How a finished session words its count, in one place. Requests still in flight when the agents were
 * told to stop arrive after the end and are counted (ADR 0002), so the count can move after the end;
 * every condition that names it is reworded from this function whenever it moves (`recount`), and the
 * status, the conditions, the Event and the UI always show the same number.
 */
export function endMessage(reason: string, count: number, target: number): string | undefined {
  switch (reason) {
    case R.RequestsReached:
      return `${count} requests profiled (asked ${target})${count > target ? `: ${count - target} more were already under way when the agents were told to stop, and are kept` : ''}`;
    case R.DeadlineExceeded:
      return `deadline reached with partial results: ${count} of ${target} requests profiled`;
    case R.Deleted:
      return `deleted with ${count} requests profiled; results stay in the store`;
    default:
      return undefined;
  }
}

/** Rewords the count-bearing end conditions (Complete, Ready) for `count`. Mutates and returns `conditions`. */
export function recount(conditions: Condition[], count: number, target: number): Condition[] {
  for (const c of conditions) {
    if (c.type !== CONDITION.types.complete && c.type !== CONDITION.types.ready) continue;
    if (c.reason === R.Deleted && !c.message.endsWith('results stay in the store')) continue;
    const message = endMessage(c.reason, count, target);
    if (message !== undefined) c.message = message;
  }
  return conditions;
}

/** Why a session that profiled nothing got nothing: what its conditions knew at the end. */
export interface NothingCause {
  /** Pods (agent processes) that were started on the session. */
  podsStarted: number;
  /** The `Ready` condition's reason and message while it waited (NoMatchingPods / NoAgents / …). */
  ready?: Pick<Condition, 'reason' | 'message'>;
  /** No agent ever reported the request type; `known` lists a few types they did report. */
  unseenType?: { known: string };
  request: string;
}

/**
 * The one outcome of a session that ended with no request profiled, whatever the cause: phase Failed,
 * `Complete` True/`NothingProfiled` with a message that says why, and `Ready` False with the cause's
 * reason (NoMatchingPods, NoAgents, or NoMatchingRequests when agents sampled and no such request came).
 */
export function nothingProfiled(cause: NothingCause): { readyReason: string; message: string } {
  if (cause.podsStarted === 0) {
    const readyReason = cause.ready?.reason === R.NoMatchingPods ? R.NoMatchingPods : R.NoAgents;
    return { readyReason, message: `nothing profiled: the deadline came and no agent ever sampled for this session (${cause.ready?.message ?? 'no agent matched'})` };
  }
  const agents = `${cause.podsStarted} agent${cause.podsStarted === 1 ? ' was' : 's were'} sampling until the deadline`;
  const tail = cause.unseenType
    ? `no agent ever reported a "${cause.request}" request (${cause.unseenType.known}): check the request type's spelling`
    : `no "${cause.request}" request arrived`;
  return { readyReason: R.NoMatchingRequests, message: `nothing profiled: ${agents} and ${tail}` };
}
