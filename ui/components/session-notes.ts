import type { SessionView } from '../api/types.js';
import { h } from '../util/dom.js';
import { formatInt } from '../util/format.js';

/**
 * What a session's page must say beside its numbers so they are not misread (issue 14): a request type
 * no agent has reported yet (a warning, not a failure: traffic may come later), a session that profiled
 * nothing, and why the count can be above N.
 */

/** The RequestTypeSeen warning, while no agent has reported the session's request type. */
export function typeWarning(s: SessionView): HTMLElement | null {
  const c = s.status.conditions?.find((x) => x.type === 'RequestTypeSeen' && x.status === 'False');
  if (!c || s.status.phase === 'Failed' || s.status.phase === 'Completed') return null;
  return h('p', { class: 'banner banner-warning', role: 'status' }, h('strong', {}, 'Request type not seen yet. '), c.message);
}

/** A short mark beside the request type in lists while no agent has reported it; the full warning is its tooltip. */
export function typeUnseenMark(s: SessionView): HTMLElement | null {
  const c = s.status.conditions?.find((x) => x.type === 'RequestTypeSeen' && x.status === 'False');
  if (!c || s.status.phase === 'Failed' || s.status.phase === 'Completed') return null;
  return h('div', { class: 'type-unseen small', title: c.message }, 'not seen yet');
}

/** The session ended without a single request profiled, whatever the cause (the message says which). */
export function nothingProfiled(s: SessionView): boolean {
  return s.status.conditions?.some((c) => c.type === 'Complete' && c.status === 'True' && c.reason === 'NothingProfiled') ?? false;
}

/** Why the count can exceed N, in words; undefined when it does not. */
export function overshootText(s: SessionView): string | undefined {
  const done = s.status.requestsProfiled ?? 0;
  const want = s.spec.requests;
  if (!want || done <= want) return undefined;
  const extra = done - want;
  return (
    `${formatInt(done)} of ${formatInt(want)}: ${formatInt(extra)} more request${extra === 1 ? ' was' : 's were'} already under way when the agents were told to stop. ` +
    'Agents on several pods take requests at the same time. Each may take only what the session still missed when the operator last lowered its cap, ' +
    'and reports its count as it goes (on every request near the end); requests that finish between N and the moment the stop reaches an agent are taken too, ' +
    'profiled and kept rather than thrown away.'
  );
}

/** The overshoot explanation as a note under the header. */
export function overshootNote(s: SessionView): HTMLElement | null {
  const text = overshootText(s);
  return text ? h('p', { class: 'progress-note', 'data-testid': 'overshoot' }, text) : null;
}
