import { SondeError } from '../../src/errors.js';
import { SPEC_LIMITS } from '../../src/session/validate.js';

/** A local, in-process session: what tests, the demo and library users ask for. */
export interface LocalSessionParams {
  /** Defaults to a random id. */
  id?: string;
  /** The request type, exactly as the catalogue shows it, e.g. `GET /api/orders/:id`. */
  request: string;
  /** Profile the next N matching requests. */
  requests: number;
  /** Deadline, from now. */
  durationMs: number;
  sampleIntervalMs: number;
  /** A cap on requests taken by this process (the per-pod cap); the session stops at the smaller. */
  maxRequests?: number;
}

/** What the profiler runs: a session whatever its source (local API or operator). */
export interface SessionSpec {
  id: string;
  request: string;
  /** Matching requests to finish before the session ends. */
  limit: number;
  /** Epoch milliseconds. */
  deadline: number;
  sampleIntervalMs: number;
  /**
   * Keep every record and merge a tree at the end (local sessions, default). Sessions the operator runs
   * stream their records away and keep only counts: 10,000 requests must not pile up in the app.
   */
  retain?: boolean;
}

const ID = /^[A-Za-z0-9][-A-Za-z0-9_.:]{0,127}$/;

/**
 * Checks local session parameters against the same limits as a ProfilingSession spec, collecting every
 * problem into one SONDE_INVALID_SPEC error so the caller fixes them in one go.
 */
export function checkSessionParams(input: unknown): Required<Omit<LocalSessionParams, 'id' | 'maxRequests'>> & Pick<LocalSessionParams, 'id' | 'maxRequests'> {
  const problems: string[] = [];
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw new SondeError('SONDE_INVALID_SPEC', 'session parameters must be an object');
  const p = input as Record<string, unknown>;
  if (p.id !== undefined && (typeof p.id !== 'string' || !ID.test(p.id))) problems.push(`id: must be 1–128 letters, digits, '-', '_', '.', ':', got ${JSON.stringify(p.id)}`);
  if (typeof p.request !== 'string' || p.request.trim() === '') problems.push('request: required, a request type such as "GET /api/orders/:id"');
  else if (p.request.length > SPEC_LIMITS.maxRequestLength) problems.push(`request: longer than ${SPEC_LIMITS.maxRequestLength} characters`);
  wholeNumber(p.requests, 'requests', SPEC_LIMITS.requests.min, SPEC_LIMITS.requests.max, problems);
  wholeNumber(p.durationMs, 'durationMs', SPEC_LIMITS.durationMs.min, SPEC_LIMITS.durationMs.max, problems);
  wholeNumber(p.sampleIntervalMs, 'sampleIntervalMs', SPEC_LIMITS.sampleIntervalMs.min, SPEC_LIMITS.sampleIntervalMs.max, problems);
  if (p.maxRequests !== undefined) wholeNumber(p.maxRequests, 'maxRequests', 1, SPEC_LIMITS.requests.max, problems);
  for (const key of Object.keys(p)) {
    if (!['id', 'request', 'requests', 'durationMs', 'sampleIntervalMs', 'maxRequests'].includes(key)) problems.push(`${key}: unknown parameter`);
  }
  if (problems.length) throw new SondeError('SONDE_INVALID_SPEC', problems.join('; '));
  const out = {
    request: (p.request as string).trim(),
    requests: p.requests as number,
    durationMs: p.durationMs as number,
    sampleIntervalMs: p.sampleIntervalMs as number,
  } as ReturnType<typeof checkSessionParams>;
  if (p.id !== undefined) out.id = p.id as string;
  if (p.maxRequests !== undefined) out.maxRequests = p.maxRequests as number;
  return out;
}

function wholeNumber(v: unknown, name: string, min: number, max: number, problems: string[]): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) problems.push(`${name}: must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
}
