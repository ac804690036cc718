import { describe, expect, it } from 'vitest';
import { SondeError } from '../../../src/errors.js';
import { PROTOCOL_LIMITS } from '../../../src/protocol/messages.js';
import { checkedTree, parseAgentMessage, validateAgentMessage } from '../../../src/protocol/validate-agent-message.js';
import { fakeRequest } from '../../harness/fake-agent.js';

const hello = {
  type: 'hello',
  protocol: 1,
  pod: { name: 'web-1', namespace: 'shop', uid: 'u1' },
  labels: { app: 'shop' },
  agent: { runtime: 'node', runtimeVersion: 'v20.0.0', agentVersion: '0.1.0', pid: 42 },
  catalogue: [{ type: 'GET /a', count: 1, errors: 0, p50Ms: 1, p90Ms: 2, p99Ms: 3 }],
  sessions: [{ session: 's1', requests: 2 }],
};

function refusal(value: unknown): SondeError {
  try {
    validateAgentMessage(value);
  } catch (err) {
    expect(err).toBeInstanceOf(SondeError);
    return err as SondeError;
  }
  throw new Error('accepted');
}

describe('validateAgentMessage', () => {
  it('accepts every message type and keeps only the known fields', () => {
    expect(validateAgentMessage({ ...hello, extra: 'dropped' })).toEqual(hello);
    expect(validateAgentMessage({ type: 'catalogue', entries: [] })).toEqual({ type: 'catalogue', entries: [] });
    expect(validateAgentMessage({ type: 'progress', session: 's1', requests: 1, samples: 2, inFlight: 0 })).toMatchObject({ type: 'progress' });
    expect(validateAgentMessage({ type: 'ended', session: 's1', reason: 'error', requests: 0, samples: 0, error: 'boom' })).toMatchObject({ error: 'boom' });
    expect(validateAgentMessage({ type: 'error', code: 'X', message: 'y' })).toEqual({ type: 'error', code: 'X', message: 'y' });
    const r = fakeRequest('GET /a');
    const msg = validateAgentMessage({ type: 'requests', session: 's1', seq: 1, requests: [{ ...r, junk: 1, tree: { ...r.tree, junk: 2 } }] });
    expect(msg).toEqual({ type: 'requests', session: 's1', seq: 1, requests: [r] });
    // The tree the validator built is handed on, so the store does not read it again.
    if (msg.type !== 'requests') throw new Error('type');
    expect(checkedTree(msg.requests[0]!.tree)!.totals.samples).toBe(10);
    expect(checkedTree(r.tree)).toBeUndefined();
  });

  it('names the offending field', () => {
    const cases: [unknown, RegExp][] = [
      [null, /message must be an object/],
      [{ type: 42 }, /type must be a string/],
      [{ ...hello, pod: { name: '', namespace: 'shop' } }, /pod\.name must not be empty/],
      [{ ...hello, agent: { ...hello.agent, runtime: 'ruby' } }, /agent\.runtime must be one of node, python/],
      [{ ...hello, labels: { a: 1 } }, /labels\.a must be a string/],
      [{ ...hello, labels: Object.fromEntries(Array.from({ length: PROTOCOL_LIMITS.maxLabels + 1 }, (_, i) => [`k${i}`, 'v'])) }, /more than 64/],
      [{ ...hello, catalogue: [{ type: 'GET /a', count: 1.5 }] }, /catalogue\[0\]\.count must be a whole number/],
      [{ ...hello, sessions: [{ session: 's', requests: -1 }] }, /sessions\[0\]\.requests/],
      [{ type: 'progress', session: 'x'.repeat(PROTOCOL_LIMITS.maxStringLength + 1), requests: 0, samples: 0, inFlight: 0 }, /longer than 4096/],
      [{ type: 'requests', session: 's', seq: 0, requests: [] }, /seq must start at 1/],
      [{ type: 'requests', session: 's', seq: 1, requests: new Array(PROTOCOL_LIMITS.maxRequestsPerMessage + 1).fill({}) }, /more than 500/],
      [{ type: 'requests', session: 's', seq: 1, requests: [{ ...fakeRequest('GET /a'), durationMs: Number.NaN }] }, /requests\[0\]\.durationMs/],
      [{ type: 'requests', session: 's', seq: 1, requests: [{ ...fakeRequest('GET /a'), outcome: 'meh' }] }, /requests\[0\]\.outcome/],
      [{ type: 'requests', session: 's', seq: 1, requests: [{ ...fakeRequest('GET /a'), status: 42 }] }, /requests\[0\]\.status/],
      [{ type: 'requests', session: 's', seq: 1, requests: [{ ...fakeRequest('GET /a'), tree: { version: 2 } }] }, /requests\[0\]\.tree: tree: unsupported version/],
      [{ type: 'ended', session: 's', reason: 'bored', requests: 0, samples: 0 }, /reason must be one of/],
    ];
    for (const [value, reason] of cases) {
      const err = refusal(value);
      expect(err.code).toBe('SONDE_BAD_MESSAGE');
      expect(err.message).toMatch(reason);
    }
  });

  it('gives protocol and size errors their own codes', () => {
    expect(refusal({ ...hello, protocol: 2 }).code).toBe('SONDE_BAD_PROTOCOL');
    expect(() => parseAgentMessage('x'.repeat(PROTOCOL_LIMITS.maxMessageBytes + 1))).toThrow(expect.objectContaining({ code: 'SONDE_TREE_TOO_LARGE', wsCode: 1009 }));
    expect(() => parseAgentMessage(new Uint8Array([0xff, 0xfe]))).toThrow(SondeError);
    expect(() => parseAgentMessage('{')).toThrow(/not JSON/);
    expect(parseAgentMessage(Buffer.from(JSON.stringify(hello)))).toEqual(hello);
  });
});
