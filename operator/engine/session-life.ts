import type { SessionPhase } from '../../src/session/types.js';

/**
 * A session's lifecycle (docs/adr/0002-session-lifecycle.md) as one state instead of flags:
 *
 *   Invalid <─specInvalid/specAccepted─> Pending ─agentStarted─> Running ─tookN─> Stopping
 *   Pending | Running | Stopping ─ended─> Completed | Failed     (terminal: never run again)
 *   Failed ─lateResults─> Completed   (it ended "nothing profiled", then requests taken before the end arrived)
 *
 * `Invalid` shows as Failed but takes a fixed spec (a typo should not need a delete); `Stopping` shows
 * as Running: the agents took N between them and were told to stop, their last records are on the way.
 */
export type Life = 'Invalid' | 'Pending' | 'Running' | 'Stopping' | 'Completed' | 'Failed';

export type LifeEvent =
  | { type: 'specAccepted' }
  | { type: 'specInvalid' }
  | { type: 'agentStarted' }
  | { type: 'tookN' }
  | { type: 'ended'; phase: 'Completed' | 'Failed' }
  /** Requests taken before the end arrived after a "nothing profiled" end: the outcome was wrong, not the run. */
  | { type: 'lateResults' };

/** The next state after `event`; the same state when the event does not apply in this one. */
export function lifeTransition(life: Life, event: LifeEvent): Life {
  switch (event.type) {
    case 'specAccepted':
      return life === 'Invalid' || life === 'Pending' ? 'Pending' : life;
    case 'specInvalid':
      return life === 'Invalid' || life === 'Pending' ? 'Invalid' : life;
    case 'agentStarted':
      return life === 'Pending' ? 'Running' : life;
    case 'tookN':
      return life === 'Running' ? 'Stopping' : life;
    case 'ended':
      return life === 'Pending' || life === 'Running' || life === 'Stopping' ? event.phase : life;
    case 'lateResults':
      return life === 'Failed' ? 'Completed' : life;
  }
}

/** The phase the status shows. */
export function phaseOf(life: Life): SessionPhase {
  if (life === 'Invalid') return 'Failed';
  if (life === 'Stopping') return 'Running';
  return life;
}

/** Over: nothing starts any more (Invalid waits for a new spec, the others are final). */
export function isOver(life: Life): boolean {
  return life === 'Invalid' || life === 'Completed' || life === 'Failed';
}

/** Agents that connect or start to match join the session only in these states. */
export function takesAgents(life: Life): boolean {
  return life === 'Pending' || life === 'Running';
}

/** The life a stored, non-terminal session resumes in. */
export function lifeOfPhase(phase: SessionPhase): Life {
  return phase;
}
