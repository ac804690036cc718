import type { PodSessionState } from '../../src/session/types.js';

/**
 * One pod's part in one session, as a state and the connection it is bound to. Reports on the session
 * are taken only from that connection (`conn`): the one the engine started, or whose claim it granted.
 * A connection of another pod, namespace or process incarnation can never become it, so it can never
 * add records, end the pod's part early or spoil its sequence numbers.
 *
 *   (none) ─started─> Sampling ─sessionEnded/ended─> Done
 *   Sampling ─disconnected─> Lost ─started─> Sampling        (reconnect while the session runs)
 *   Lost ─adopted─> Done                                     (reconnect after the end, or at its cap)
 *   any ─ended(error)─> Failed;  Sampling ─operatorRestarted─> Lost
 */
export interface PodPart {
  state: PodSessionState;
  /** The connection reports are taken from; undefined while no connection is bound (after a loss or a restart). */
  conn: string | undefined;
  message?: string;
}

export type PodEvent =
  /** `start` went out on `conn`. */
  | { type: 'started'; conn: string }
  /** The engine took `conn`'s claim without starting it (the session is over, or the pod reached its cap). */
  | { type: 'adopted'; conn: string }
  | { type: 'disconnected'; conn: string }
  /** The agent on `conn` said the session ended there; `error` when its sampler failed. */
  | { type: 'ended'; conn: string; error?: string }
  /** The session ended (N, deadline, delete): a pod still sampling is done, its late records still come. */
  | { type: 'sessionEnded' }
  /** The operator restarted: no connection survives it. */
  | { type: 'operatorRestarted' };

const active = (s: PodSessionState): boolean => s === 'Sampling' || s === 'Pending';

/** The next part after `event`. Pure: returns the same object when the event does not apply. */
export function podTransition(part: PodPart, event: PodEvent): PodPart {
  switch (event.type) {
    case 'started':
      return { state: 'Sampling', conn: event.conn };
    case 'adopted':
      if (part.conn === event.conn) return part;
      return { ...part, conn: event.conn, state: part.state === 'Failed' ? 'Failed' : 'Done', ...(part.state === 'Lost' ? { message: 'the agent reconnected after its part ended' } : {}) };
    case 'disconnected':
      if (part.conn !== event.conn) return part;
      if (active(part.state)) return { state: 'Lost', conn: undefined, message: 'the agent disconnected; its finished requests are kept' };
      return { ...part, conn: undefined };
    case 'ended':
      if (part.conn !== event.conn) return part;
      if (event.error !== undefined) return { state: 'Failed', conn: part.conn, message: event.error || 'the sampler failed' };
      if (active(part.state) || part.state === 'Lost') return { state: 'Done', conn: part.conn };
      return part;
    case 'sessionEnded':
      return active(part.state) ? { state: 'Done', conn: part.conn } : part;
    case 'operatorRestarted':
      if (active(part.state)) return { state: 'Lost', conn: undefined, message: 'the operator restarted; waiting for the agent to reconnect' };
      return { ...part, conn: undefined };
  }
}

/** The pod's agent is still expected to sample (started, not ended nor lost). */
export function isSampling(part: PodPart): boolean {
  return active(part.state);
}
