import { SPEC_LIMITS } from '../session/validate.js';
import { type OperatorMessage, type SessionEndReason, PROTOCOL_LIMITS } from './messages.js';

/** The outcome of checking one operator → agent message. */
export type OperatorMessageResult = { ok: true; message: OperatorMessage } | { ok: false; error: string };

const END_REASONS: readonly SessionEndReason[] = ['requests', 'deadline', 'stopped', 'error'];

/**
 * Parses and checks a text frame from the operator. Agents act only on what passes; fields this
 * version does not know are ignored (the protocol only ever adds fields), but every known field must
 * have its documented type and range.
 */
export function parseOperatorMessage(text: string): OperatorMessageResult {
  if (text.length > PROTOCOL_LIMITS.maxMessageBytes) return { ok: false, error: `message longer than ${PROTOCOL_LIMITS.maxMessageBytes} bytes` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: 'message is not JSON' };
  }
  return validateOperatorMessage(value);
}

/** Checks an already-parsed operator message. */
export function validateOperatorMessage(value: unknown): OperatorMessageResult {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return { ok: false, error: 'message must be a JSON object' };
  const m = value as Record<string, unknown>;
  const problems: string[] = [];
  switch (m.type) {
    case 'welcome':
      wholeNumber(m, 'protocol', 1, 1_000_000, problems);
      text(m, 'agentId', problems);
      wholeNumber(m, 'heartbeatMs', 100, 3_600_000, problems);
      if (m.acks !== undefined && typeof m.acks !== 'boolean') problems.push('acks must be true or false');
      if (m.processesPerPod !== undefined) wholeNumber(m, 'processesPerPod', 1, 1_000_000, problems);
      if (problems.length) break;
      return {
        ok: true,
        message: {
          type: 'welcome',
          protocol: m.protocol as number,
          agentId: m.agentId as string,
          heartbeatMs: m.heartbeatMs as number,
          ...(m.acks === true ? { acks: true } : {}),
          ...(m.processesPerPod !== undefined ? { processesPerPod: m.processesPerPod as number } : {}),
        },
      };
    case 'start': {
      text(m, 'session', problems);
      text(m, 'request', problems, SPEC_LIMITS.maxRequestLength);
      wholeNumber(m, 'maxRequests', SPEC_LIMITS.requests.min, SPEC_LIMITS.requests.max, problems);
      if (typeof m.deadline !== 'number' || !Number.isFinite(m.deadline) || m.deadline <= 0) problems.push('deadline must be epoch milliseconds');
      const iv = m.sampleIntervalMs;
      if (typeof iv !== 'number' || !Number.isFinite(iv) || iv < SPEC_LIMITS.sampleIntervalMs.min || iv > SPEC_LIMITS.sampleIntervalMs.max) {
        problems.push(`sampleIntervalMs must be from ${SPEC_LIMITS.sampleIntervalMs.min} to ${SPEC_LIMITS.sampleIntervalMs.max}`);
      }
      if (m.alreadyReported !== undefined) wholeNumber(m, 'alreadyReported', 0, SPEC_LIMITS.requests.max, problems);
      if (problems.length) break;
      const start: OperatorMessage = {
        type: 'start',
        session: m.session as string,
        request: m.request as string,
        maxRequests: m.maxRequests as number,
        deadline: m.deadline as number,
        sampleIntervalMs: iv as number,
      };
      if (m.alreadyReported !== undefined) start.alreadyReported = m.alreadyReported as number;
      return { ok: true, message: start };
    }
    case 'stop':
      text(m, 'session', problems);
      if (!END_REASONS.includes(m.reason as SessionEndReason)) problems.push(`reason must be one of ${END_REASONS.join(', ')}`);
      if (problems.length) break;
      return { ok: true, message: { type: 'stop', session: m.session as string, reason: m.reason as SessionEndReason } };
    case 'error':
      text(m, 'code', problems);
      if (typeof m.message !== 'string' || m.message.length > PROTOCOL_LIMITS.maxStringLength) problems.push('message must be a string');
      if (problems.length) break;
      return { ok: true, message: { type: 'error', code: m.code as string, message: m.message as string } };
    case 'ack': {
      // Added in Sonde 0.2.
      text(m, 'session', problems);
      wholeNumber(m, 'seq', 1, Number.MAX_SAFE_INTEGER, problems);
      if (m.retryAfterMs !== undefined) wholeNumber(m, 'retryAfterMs', 0, 3_600_000, problems);
      if (problems.length) break;
      const ack: OperatorMessage = { type: 'ack', session: m.session as string, seq: m.seq as number };
      if (m.retryAfterMs !== undefined) ack.retryAfterMs = m.retryAfterMs as number;
      return { ok: true, message: ack };
    }
    case 'limit':
      // Added in Sonde 0.4.
      text(m, 'session', problems);
      wholeNumber(m, 'maxRequests', SPEC_LIMITS.requests.min, SPEC_LIMITS.requests.max, problems);
      if (problems.length) break;
      return { ok: true, message: { type: 'limit', session: m.session as string, maxRequests: m.maxRequests as number } };
    default:
      return { ok: false, error: `unknown message type ${JSON.stringify(m.type)}` };
  }
  return { ok: false, error: `bad ${String(m.type)} message: ${problems.join('; ')}` };
}

function text(m: Record<string, unknown>, field: string, problems: string[], max: number = PROTOCOL_LIMITS.maxStringLength): void {
  const v = m[field];
  if (typeof v !== 'string' || v.length === 0 || v.length > max) problems.push(`${field} must be a non-empty string of at most ${max} characters`);
}

function wholeNumber(m: Record<string, unknown>, field: string, min: number, max: number, problems: string[]): void {
  const v = m[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) problems.push(`${field} must be a whole number from ${min} to ${max}`);
}
