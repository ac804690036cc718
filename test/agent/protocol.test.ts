import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../agent/connection/backoff.js';
import { parseOperatorMessage, validateOperatorMessage } from '../../src/protocol/validate-operator-message.js';

describe('operator message validation', () => {
  const start = { type: 'start', session: 's1', request: 'GET /a/:id', maxRequests: 10, deadline: Date.now() + 60_000, sampleIntervalMs: 10 };

  it('accepts the four operator messages and ignores fields it does not know', () => {
    expect(validateOperatorMessage({ type: 'welcome', protocol: 1, agentId: 'x', heartbeatMs: 15_000, future: true })).toEqual({
      ok: true,
      message: { type: 'welcome', protocol: 1, agentId: 'x', heartbeatMs: 15_000 },
    });
    expect(validateOperatorMessage({ ...start, alreadyReported: 3 })).toMatchObject({ ok: true, message: { ...start, alreadyReported: 3 } });
    expect(validateOperatorMessage({ type: 'stop', session: 's1', reason: 'deadline' }).ok).toBe(true);
    expect(validateOperatorMessage({ type: 'error', code: 'SONDE_X', message: 'why' }).ok).toBe(true);
  });

  it.each([
    ['not JSON', '{', /not JSON/],
    ['an array', '[]', /JSON object/],
    ['an unknown type', '{"type":"launch"}', /unknown message type "launch"/],
    ['a start without a session', JSON.stringify({ ...start, session: '' }), /session must be a non-empty string/],
    ['N out of range', JSON.stringify({ ...start, maxRequests: 10_001 }), /maxRequests must be a whole number from 1 to 10000/],
    ['a fractional N', JSON.stringify({ ...start, maxRequests: 1.5 }), /maxRequests/],
    ['an interval too fine', JSON.stringify({ ...start, sampleIntervalMs: 0.5 }), /sampleIntervalMs must be from 1 to 1000/],
    ['no deadline', JSON.stringify({ ...start, deadline: 'soon' }), /deadline must be epoch milliseconds/],
    ['a request type too long', JSON.stringify({ ...start, request: 'x'.repeat(513) }), /request must be a non-empty string of at most 512/],
    ['a negative resume count', JSON.stringify({ ...start, alreadyReported: -1 }), /alreadyReported/],
    ['a stop with an unknown reason', '{"type":"stop","session":"s","reason":"bored"}', /reason must be one of requests, deadline, stopped, error/],
    ['a welcome with a silly heartbeat', '{"type":"welcome","protocol":1,"agentId":"a","heartbeatMs":5}', /heartbeatMs/],
  ])('refuses %s with a clear reason', (_, text, reason) => {
    const r = parseOperatorMessage(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(reason);
  });
});

describe('reconnect backoff', () => {
  it('grows exponentially up to the cap, with full jitter', () => {
    const policy = { baseMs: 100, capMs: 5000 };
    expect(backoffDelay(0, policy, () => 0.999)).toBe(99);
    expect(backoffDelay(3, policy, () => 0.999)).toBe(799);
    expect(backoffDelay(20, policy, () => 0.999)).toBe(4995);
    expect(backoffDelay(1000, policy, () => 0.999)).toBe(4995);
    expect(backoffDelay(5, policy, () => 0)).toBe(50); // never a tight loop
    const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(6, policy)));
    expect(spread.size).toBeGreaterThan(10);
  });
});
