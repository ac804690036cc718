import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LimitMessage, StartMessage } from '../../../src/protocol/messages.js';
import { FINE_PHASE } from '../../../operator/engine/credit.js';
import { FakeAgent, fakeRequest } from '../../harness/fake-agent.js';
import { until } from '../hub/hub-server.js';
import { tempDir } from '../store/store-fixtures.js';
import { OperatorRig, SPEC } from './operator-rig.js';

/**
 * The engine's side of keeping the count close to N: a running total on every report, `start` capped at
 * what is missing, `limit` lowering the caps of agents that honour it as the total nears N (credit.ts),
 * `stop` the moment the total reaches N. Real hub and store on loopback, agents that speak the protocol.
 */

let tmp: ReturnType<typeof tempDir>;
let rig: OperatorRig;

beforeEach(async () => {
  tmp = tempDir();
  rig = await OperatorRig.start(join(tmp.dir, 'sonde.db'));
});
afterEach(async () => {
  await rig.close();
  tmp.cleanup();
});

const reqs = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => fakeRequest('GET /a', { id: `${prefix}-${i}` }));
const startOf = (a: FakeAgent, session: string) => a.waitFor((m) => m.type === 'start' && m.session === session) as Promise<StartMessage>;
const limits = (a: FakeAgent, session: string) => a.received.filter((m): m is LimitMessage => m.type === 'limit' && m.session === session).map((m) => m.maxRequests);
const settle = () => new Promise((r) => setTimeout(r, 100));

describe('overshoot of N', () => {
  it('lowers the caps of agents that honour limit as the total nears N, never raises one, and sends none to others', async () => {
    const a = await rig.agent('web-1', { app: 'shop' }, { limits: true });
    const b = await rig.agent('web-2', { app: 'shop' }, { limits: true });
    const old = await rig.agent('web-3'); // an agent from before Sonde 0.4: never sent a limit
    rig.engine.apply(rig.input('s1', { ...SPEC, requests: 100 }));
    const starts = await Promise.all([a, b, old].map((x) => startOf(x, 's1')));
    expect(starts.map((s) => s.maxRequests)).toEqual([100, 100, 100]);

    // 30 taken of 100: what is missing (70) has not halved, no round of caps.
    a.progress('s1', 0, 0, 30);
    await settle();
    expect(limits(a, 's1')).toEqual([]);
    // 50 taken: missing halved (50): every capped agent may take what it has plus 50.
    b.progress('s1', 0, 0, 20);
    await until(() => limits(b, 's1').length === 1);
    expect(limits(a, 's1')).toEqual([80]);
    expect(limits(b, 's1')).toEqual([70]);
    // Records arriving count as well (stored 60 > the 50 progress said): missing 40 → no round (40 > 25).
    a.report('s1', reqs(40, 'a'));
    await until(() => rig.view('s1').status.requestsProfiled === 40);
    await settle();
    expect(limits(a, 's1')).toEqual([80]);
    // The fine phase: within FINE_PHASE of N, each change lowers the caps again.
    b.progress('s1', 0, 0, 20 + 30); // taken 40 + 50 = 90: missing 10
    await until(() => limits(a, 's1').length === 2);
    expect(limits(a, 's1')).toEqual([80, 50]);
    expect(limits(b, 's1')).toEqual([70, 60]);
    old.progress('s1', 0, 0, 4); // missing 6
    await until(() => limits(a, 's1').length === 3);
    expect(limits(a, 's1')).toEqual([80, 50, 46]);
    expect(limits(b, 's1')).toEqual([70, 60, 56]);
    expect(old.received.some((m) => m.type === 'limit')).toBe(false);
    expect(FINE_PHASE).toBeGreaterThanOrEqual(10);
    // A report that does not lower what is missing sends nothing; caps never rise.
    a.progress('s1', 0, 0, 30);
    await settle();
    expect(limits(a, 's1')).toHaveLength(3);
    // N reached on a progress: every agent is stopped at once, old or new.
    b.progress('s1', 0, 0, 56);
    await Promise.all([a, b, old].map((x) => x.waitFor((m) => m.type === 'stop' && m.session === 's1')));
    expect(rig.view('s1').status.phase).toBe('Running'); // Stopping: the taken records are on their way
  });

  it('stops every agent the moment stored records alone make N, before any progress says so', async () => {
    const [a, b] = [await rig.agent('web-1'), await rig.agent('web-2')];
    rig.engine.apply(rig.input('s1', { ...SPEC, requests: 10 }));
    await Promise.all([a, b].map((x) => startOf(x, 's1')));
    a.report('s1', reqs(6, 'a'));
    await until(() => rig.view('s1').status.requestsProfiled === 6);
    expect(b.received.some((m) => m.type === 'stop')).toBe(false);
    // b took 3 (its progress, heard first: its samples show in the status), then a delivers 1 more:
    // 7 stored + b's 3 taken = N, reached on a requests message.
    b.progress('s1', 0, 5, 3);
    await until(() => rig.view('s1').status.pods.find((p) => p.name === 'web-2')?.samples === 5);
    expect(a.received.some((m) => m.type === 'stop')).toBe(false);
    a.report('s1', reqs(1, 'a2'));
    await Promise.all([a, b].map((x) => x.waitFor((m) => m.type === 'stop' && m.session === 's1')));
  });

  it('starts an agent that joins late with a cap of what the session still misses, not N', async () => {
    const a = await rig.agent('web-1');
    rig.engine.apply(rig.input('s1', { ...SPEC, requests: 50 }));
    await startOf(a, 's1');
    a.progress('s1', 0, 0, 20);
    a.report('s1', reqs(5, 'a'));
    await until(() => rig.view('s1').status.requestsProfiled === 5);
    const late = await rig.agent('web-2', { app: 'shop' }, { limits: true });
    expect((await startOf(late, 's1')).maxRequests).toBe(30);
    // A pod that took part before comes back: its stored requests ride along in alreadyReported.
    await a.kill();
    const back = await rig.agent('web-1', { app: 'shop' }, { pid: 101 });
    const again = await startOf(back, 's1');
    expect(again.alreadyReported).toBe(5);
    // Stored 5 + what the late agent misses (50 − 5 stored) = 50: the lost process's undelivered 15 no longer count.
    expect(again.maxRequests).toBe(5 + 45);
  });
});

describe('overshoot of N after a reconnect', () => {
  it('sends a limit to an agent that resumed the session with a cap the engine does not know', async () => {
    const a = await rig.agent('web-1', { app: 'shop' }, { limits: true });
    const b = await rig.agent('web-2', { app: 'shop' }, { limits: true });
    rig.engine.apply(rig.input('s1', { ...SPEC, requests: 100 }));
    await Promise.all([a, b].map((x) => startOf(x, 's1')));
    a.progress('s1', 0, 0, 10);
    await settle();
    // web-1's process loses its connection; meanwhile web-2 takes 60 (missing 40: a round, which
    // lowers nothing: web-2's 60 + 40 is its cap already).
    await a.kill();
    b.progress('s1', 0, 7, 60);
    await until(() => rig.view('s1').status.pods.find((p) => p.name === 'web-2')?.samples === 7);
    // web-1 comes back still running the session (hello claims it) under its first cap, 100; the
    // engine's new start (cap 40) is ignored by it.
    const again = await rig.agent('web-1', { app: 'shop' }, { limits: true, sessions: [{ session: 's1', requests: 0 }] });
    await startOf(again, 's1');
    // It took 30 in all: missing 10, the fine phase. Its cap must come down to 30 + 10, though that is
    // the start's 40: the agent never took that start.
    again.progress('s1', 0, 0, 30);
    await until(() => limits(b, 's1').length === 1);
    expect(limits(b, 's1')).toEqual([70]);
    await until(() => limits(again, 's1').length === 1);
    expect(limits(again, 's1')).toEqual([40]);
  });
});
