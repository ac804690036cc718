import { formatDuration, parseDuration } from './duration.js';
import { isLabelKey, isLabelValue, LABEL_KEY_RULE } from './labels.js';
import type { LabelSelector, ProfilingSessionSpec } from './types.js';

/** Bounds and defaults of a spec; the CRD schema is generated from these same numbers. */
export const SPEC_LIMITS = Object.freeze({
  requests: { min: 1, max: 10_000, default: 100 },
  durationMs: { min: 1000, max: 3_600_000, default: '5m' },
  sampleIntervalMs: { min: 1, max: 1000, default: '10ms' },
  maxRequestLength: 512,
  /** Labels in `selector.matchLabels` (the CRD's maxProperties: it also bounds the CEL rule over the keys). */
  maxMatchLabels: 64,
});

/** A spec with defaults applied and its durations in milliseconds, ready to act on. */
export interface ResolvedSpec extends ProfilingSessionSpec {
  durationMs: number;
  sampleIntervalMs: number;
}

export interface SpecProblem {
  /** JSON path of the offending field, e.g. `spec.requests`. */
  field: string;
  message: string;
}

export type SpecResult = { ok: true; spec: ResolvedSpec } | { ok: false; problems: SpecProblem[] };

const SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'];
/** A value quoted for an error message, shortened: what a client sent is echoed back bounded. */
function quoted(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

/**
 * Applies defaults and checks a spec from any source (CRD, REST body, YAML file). Collects every
 * problem rather than stopping at the first, so the user fixes them in one go.
 */
export function resolveSpec(input: unknown): SpecResult {
  const problems: SpecProblem[] = [];
  const bad = (field: string, message: string): void => void problems.push({ field: `spec.${field}`, message });
  if (!input || typeof input !== 'object' || Array.isArray(input)) {
    return { ok: false, problems: [{ field: 'spec', message: 'spec must be an object' }] };
  }
  const s = input as Record<string, unknown>;

  const selector = checkSelector(s.selector ?? {}, bad);

  let request = '';
  if (typeof s.request !== 'string' || s.request.trim() === '') bad('request', 'request is required: a request type such as "GET /api/orders/:id"');
  else if (s.request.length > SPEC_LIMITS.maxRequestLength) bad('request', `request is longer than ${SPEC_LIMITS.maxRequestLength} characters`);
  else request = s.request.trim();

  const requests = s.requests ?? SPEC_LIMITS.requests.default;
  if (typeof requests !== 'number' || !Number.isInteger(requests) || requests < SPEC_LIMITS.requests.min || requests > SPEC_LIMITS.requests.max) {
    bad('requests', `requests must be a whole number from ${SPEC_LIMITS.requests.min} to ${SPEC_LIMITS.requests.max}, got ${JSON.stringify(requests)}`);
  }

  const duration = (s.duration ?? SPEC_LIMITS.durationMs.default) as string;
  const durationMs = checkDuration(duration, 'duration', SPEC_LIMITS.durationMs.min, SPEC_LIMITS.durationMs.max, bad);
  const sampleInterval = (s.sampleInterval ?? SPEC_LIMITS.sampleIntervalMs.default) as string;
  const sampleIntervalMs = checkDuration(sampleInterval, 'sampleInterval', SPEC_LIMITS.sampleIntervalMs.min, SPEC_LIMITS.sampleIntervalMs.max, bad);

  const maxRequestsPerPod = s.maxRequestsPerPod;
  if (maxRequestsPerPod !== undefined && (typeof maxRequestsPerPod !== 'number' || !Number.isInteger(maxRequestsPerPod) || maxRequestsPerPod < 1 || maxRequestsPerPod > SPEC_LIMITS.requests.max)) {
    bad('maxRequestsPerPod', `maxRequestsPerPod must be a whole number from 1 to ${SPEC_LIMITS.requests.max}`);
  }

  for (const key of Object.keys(s)) {
    if (!['selector', 'request', 'requests', 'duration', 'sampleInterval', 'maxRequestsPerPod'].includes(key)) bad(key, `unknown field "${key}"`);
  }
  if (problems.length) return { ok: false, problems };
  const spec: ResolvedSpec = {
    selector,
    request,
    requests: requests as number,
    duration,
    sampleInterval,
    durationMs,
    sampleIntervalMs,
  };
  if (maxRequestsPerPod !== undefined) spec.maxRequestsPerPod = maxRequestsPerPod as number;
  return { ok: true, spec };
}

/** One line per problem, for conditions, events and HTTP 400 bodies. */
export function describeProblems(problems: SpecProblem[]): string {
  return problems.map((p) => `${p.field}: ${p.message}`).join('; ');
}

const SPEC_DURATION = /^(\d+(\.\d+)?(ms|s|m|h))+$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `ms` in the unit the user's text ends with when it is a whole number there ("1000h" → max "1h"), else the shortest form. */
function inUnitOf(text: string, ms: number): string {
  const unit = /(ms|s|m|h)$/.exec(text)?.[1] ?? 'ms';
  const n = ms / UNIT_MS[unit]!;
  return Number.isInteger(n) ? `${n}${unit}` : formatDuration(ms);
}

function checkDuration(value: unknown, field: string, min: number, max: number, bad: (f: string, m: string) => void): number {
  if (typeof value !== 'string') {
    bad(field, `${field} must be a duration string such as "5m"`);
    return 0;
  }
  // A spec's units are ms, s, m and h (the CRD's pattern too); parseDuration also reads Go's ns and us.
  if (!SPEC_DURATION.test(value)) {
    bad(field, `${field} must be a duration in ms, s, m or h (e.g. "90s", "5m", "1m30s"), got ${JSON.stringify(value)}`);
    return 0;
  }
  try {
    const ms = parseDuration(value);
    if (ms < min || ms > max) bad(field, `${field} must be between ${inUnitOf(value, min)} and ${inUnitOf(value, max)}, got ${value}`);
    return ms;
  } catch (err) {
    bad(field, (err as Error).message);
    return 0;
  }
}

function checkSelector(value: unknown, bad: (f: string, m: string) => void): LabelSelector {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    bad('selector', 'selector must be an object with matchLabels and/or matchExpressions');
    return {};
  }
  const sel = value as Record<string, unknown>;
  const out: LabelSelector = {};
  if (sel.matchLabels !== undefined) {
    if (!sel.matchLabels || typeof sel.matchLabels !== 'object' || Array.isArray(sel.matchLabels)) bad('selector.matchLabels', 'matchLabels must be a map of label to value');
    else if (Object.keys(sel.matchLabels).length > SPEC_LIMITS.maxMatchLabels) {
      // Said once, without a problem per label: a body of thousands of labels gets one short answer.
      bad('selector.matchLabels', `matchLabels may hold at most ${SPEC_LIMITS.maxMatchLabels} labels, got ${Object.keys(sel.matchLabels).length}`);
    } else {
      out.matchLabels = {};
      for (const [k, v] of Object.entries(sel.matchLabels)) {
        const field = `selector.matchLabels.${quoted(k).slice(1, -1)}`;
        if (!isLabelKey(k)) bad(field, `${quoted(k)} is not a valid label key: ${LABEL_KEY_RULE}`);
        if (typeof v !== 'string') bad(field, `a label value is a string, got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`);
        else if (!isLabelValue(v)) bad(field, `${quoted(v)} is not a valid label value`);
        else out.matchLabels[k] = v;
      }
    }
  }
  if (sel.matchExpressions !== undefined) {
    if (!Array.isArray(sel.matchExpressions)) bad('selector.matchExpressions', 'matchExpressions must be a list');
    else {
      out.matchExpressions = [];
      sel.matchExpressions.forEach((e: unknown, i: number) => {
        const expr = e as Record<string, unknown> | null;
        const where = `selector.matchExpressions[${i}]`;
        if (!expr || typeof expr !== 'object' || typeof expr.key !== 'string' || !isLabelKey(expr.key)) return bad(where, `needs a valid key: ${LABEL_KEY_RULE}`);
        if (typeof expr.operator !== 'string' || !SELECTOR_OPERATORS.includes(expr.operator)) return bad(where, `operator must be one of ${SELECTOR_OPERATORS.join(', ')}`);
        const needsValues = expr.operator === 'In' || expr.operator === 'NotIn';
        const values = expr.values;
        if (needsValues && (!Array.isArray(values) || values.length === 0 || !values.every((v) => typeof v === 'string'))) return bad(where, `${expr.operator} needs a non-empty list of values`);
        if (!needsValues && values !== undefined && (!Array.isArray(values) || values.length > 0)) return bad(where, `${expr.operator} takes no values`);
        // An empty list given with Exists/DoesNotExist is kept, as the API server stores it (CRD parity).
        out.matchExpressions!.push({ key: expr.key, operator: expr.operator as 'In', ...(needsValues || Array.isArray(values) ? { values: values as string[] } : {}) });
      });
    }
  }
  for (const key of Object.keys(sel)) if (key !== 'matchLabels' && key !== 'matchExpressions') bad(`selector.${key}`, `unknown field "${key}"`);
  return out;
}

/** Whether a pod's labels satisfy a selector (Kubernetes semantics; an empty selector matches all). */
export function selectorMatches(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    switch (e.operator) {
      case 'In':
        if (!has || !e.values!.includes(labels[e.key]!)) return false;
        break;
      case 'NotIn':
        if (has && e.values!.includes(labels[e.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}
