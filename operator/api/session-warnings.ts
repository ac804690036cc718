import { CONDITION, type SessionView } from '../../src/session/types.js';

/**
 * What a created session should warn its creator about, though it was accepted: today a request type no
 * agent has reported (a typo, or traffic that has not come yet). `POST /api/v1/sessions` returns these
 * as `warnings` in the body and as `Warning` headers, the way the Kubernetes API server returns admission
 * warnings (kubectl prints them).
 */
export function warningsOf(view: SessionView): string[] {
  return view.status.conditions.filter((c) => c.type === CONDITION.types.requestTypeSeen && c.status === 'False').map((c) => c.message);
}

/** The longest warning a header carries (the body has the whole text). */
const MAX_HEADER_CHARS = 512;

/**
 * A `Warning` header value (RFC 7234 §5.5: `299 - "text"`). Request types come from agents, so the text
 * is cut to printable ASCII (a header cannot carry more) with quotes and backslashes escaped.
 */
export function warningHeader(text: string): string {
  const ascii = text.replace(/[^\x20-\x7e]/g, '?').slice(0, MAX_HEADER_CHARS);
  return `299 - "${ascii.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
