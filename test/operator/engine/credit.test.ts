import { describe, expect, it } from 'vitest';
import { FINE_PHASE, capFor, capsDue } from '../../../operator/engine/credit.js';
import type { PodRun } from '../../../operator/engine/session-run.js';
import { countAll, missing, recountPart } from '../../../operator/engine/taken-total.js';
import { SondeError } from '../../../src/errors.js';
import { validateAgentMessage } from '../../../src/protocol/validate-agent-message.js';
import { validateOperatorMessage } from '../../../src/protocol/validate-operator-message.js';

const part = (over: Partial<PodRun> = {}): PodRun => ({ name: 'web-1', uid: '', pid: 1, incarnation: 'i', lastSeq: 0, state: 'Sampling', conn: 'c1', requests: 0, samples: 0, ...over });

describe('the running total of requests taken', () => {
  it('moves by each part’s change only, and drops what a lost part took but never delivered', () => {
    const run = { taken: 0, pods: new Map<string, PodRun>(), resolved: { requests: 10 } as never };
    const a = part();
    const b = part({ name: 'web-2' });
    run.pods.set('a', a).set('b', b);
    a.claimed = 4;
    recountPart(run, a);
    b.requests = 3;
    recountPart(run, b);
    expect(run.taken).toBe(7);
    a.requests = 2; // stored 2 of the 4 it took: the taken count does not move
    recountPart(run, a);
    expect(run.taken).toBe(7);
    a.conn = undefined; // lost: only what is stored counts
    recountPart(run, a);
    expect(run.taken).toBe(5);
    expect(missing(run)).toBe(5);
    countAll(run);
    expect(run.taken).toBe(5);
    b.claimed = 20;
    recountPart(run, b);
    expect(missing(run)).toBe(0);
  });
});

describe('the credit scheme', () => {
  it('caps a part at what it took plus what is missing, so reaching the cap means N across parts', () => {
    expect(capFor(part({ claimed: 7 }), 5)).toBe(12);
    expect(capFor(part({ claimed: 2, requests: 4 }), 5)).toBe(9);
    // Lost: its progress no longer counts, only what is stored.
    expect(capFor(part({ claimed: 9, requests: 4, conn: undefined }), 5)).toBe(9);
  });

  it('lowers caps when what is missing halved, and on every change near N', () => {
    expect(capsDue({ capsLeft: 200 }, 101)).toBe(false);
    expect(capsDue({ capsLeft: 200 }, 100)).toBe(true);
    expect(capsDue({ capsLeft: undefined }, 150)).toBe(true);
    expect(capsDue({ capsLeft: 2 * FINE_PHASE }, FINE_PHASE)).toBe(true);
    expect(capsDue({ capsLeft: FINE_PHASE }, FINE_PHASE)).toBe(false); // nothing moved: no pass over the parts
    expect(capsDue({ capsLeft: FINE_PHASE }, FINE_PHASE - 1)).toBe(true);
    expect(capsDue({ capsLeft: 3 }, 1)).toBe(true);
    expect(capsDue({ capsLeft: 3 }, 0)).toBe(false);
    // Rounds from N = 10,000 to N: about log2(N) of them, then the fine phase.
    let rounds = 0;
    let at: number | undefined = 10_000;
    for (let left = 10_000; left > 0; left--) {
      if (capsDue({ capsLeft: at }, left)) {
        rounds++;
        at = left;
      }
    }
    expect(rounds).toBeLessThanOrEqual(Math.ceil(Math.log2(10_000)) + FINE_PHASE);
  });
});

describe('limit on the wire (Sonde 0.4)', () => {
  it('accepts a limit and refuses a bad one with the field named', () => {
    expect(validateOperatorMessage({ type: 'limit', session: 's1', maxRequests: 5, extra: 1 })).toEqual({ ok: true, message: { type: 'limit', session: 's1', maxRequests: 5 } });
    for (const bad of [0, -3, 1.5, '5', 10_000_000, Number.NaN, null]) {
      const r = validateOperatorMessage({ type: 'limit', session: 's1', maxRequests: bad });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toMatch(/maxRequests/);
    }
    const r = validateOperatorMessage({ type: 'limit', session: '', maxRequests: 5 });
    expect(r.ok || r.error).toMatch(/session/);
    expect(validateOperatorMessage({ type: 'limit', session: 'x'.repeat(5000), maxRequests: 5 }).ok).toBe(false);
  });

  it('takes hello.limits as a boolean only', () => {
    const hello = {
      type: 'hello',
      protocol: 1,
      pod: { name: 'web-1', namespace: 'shop', uid: '' },
      labels: {},
      agent: { runtime: 'node', runtimeVersion: 'v20', agentVersion: '0.1.0', pid: 1 },
      catalogue: [],
      sessions: [],
    };
    expect(validateAgentMessage({ ...hello, limits: true })).toMatchObject({ limits: true });
    expect(validateAgentMessage(hello)).not.toHaveProperty('limits');
    expect(() => validateAgentMessage({ ...hello, limits: 'yes' })).toThrow(SondeError);
    expect(() => validateAgentMessage({ ...hello, limits: 'yes' })).toThrow(/limits must be true or false/);
  });
});
