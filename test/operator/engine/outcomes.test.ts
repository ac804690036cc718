import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RequestTypeStats, StartMessage, StopMessage } from '../../../src/protocol/messages.js';
import type { SessionView } from '../../../src/session/types.js';
import { withLateRequests } from '../../../operator/engine/late-reports.js';
import { lifeTransition } from '../../../operator/engine/session-life.js';
import { FakeAgent, fakeRequest } from '../../harness/fake-agent.js';
import { until } from '../hub/hub-server.js';
import { tempDir } from '../store/store-fixtures.js';
import { OperatorRig, SPEC } from './operator-rig.js';

/**
 * Issue 14: what a session says about its outcome must be true. A request type no agent has seen is
 * warned about at once; "nothing profiled" is one outcome (Failed/NothingProfiled) whatever its cause;
 * every place names the same count, also after requests in flight at the stop arrive.
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

const stats = (type: string): RequestTypeStats => ({ type, count: 10, errors: 0, p50Ms: 1, p90Ms: 2, p99Ms: 3 });
const reqs = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => fakeRequest('GET /a', { id: `${prefix}-${i}` }));
const startOf = (a: FakeAgent, session: string) => a.waitFor((m) => m.type === 'start' && m.session === session) as Promise<StartMessage>;
const stopOf = (a: FakeAgent, session: string) => a.waitFor((m) => m.type === 'stop' && m.session === session) as Promise<StopMessage>;
/** Every figure of a view that names how many requests were profiled. */
const countsIn = (v: SessionView): number[] => {
  const out = [v.status.requestsProfiled, Number(v.status.progress.split('/')[0]), v.status.pods.reduce((s, p) => s + p.requests, 0)];
  for (const c of v.status.conditions) {
    const m = /^(\d+) requests profiled|: (\d+) of \d+ requests profiled|deleted with (\d+) requests/.exec(c.message);
    if (m) out.push(Number(m[1] ?? m[2] ?? m[3]));
  }
  return out;
};

describe('a request type no agent has seen', () => {
  it('is accepted with RequestTypeSeen False listing the types agents did report, and clears when an agent reports it', async () => {
    const a = await rig.agent('web-1', { app: 'shop' }, { catalogue: [stats('GET /b'), stats('POST /c')] });
    rig.engine.apply(rig.input('s1', SPEC));
    await startOf(a, 's1');
    const warn = rig.condition('s1', 'RequestTypeSeen');
    expect(warn).toMatchObject({ status: 'False', reason: 'UnknownRequestType' });
    expect(warn!.message).toContain('"GET /a"');
    expect(warn!.message).toContain('"GET /b", "POST /c"');
    // Not a refusal: the spec is accepted and the agents sample.
    expect(rig.condition('s1', 'SpecAccepted')).toMatchObject({ status: 'True' });
    expect(rig.view('s1').status.phase).toBe('Running');

    a.send({ type: 'catalogue', entries: [stats('GET /b'), stats('GET /a')] });
    await until(() => rig.condition('s1', 'RequestTypeSeen')?.status === 'True');
    expect(rig.condition('s1', 'RequestTypeSeen')!.reason).toBe('RequestTypeSeen');
  });

  it('is known from a stored catalogue of an agent that has gone, and from another pod of the namespace', async () => {
    const gone = await rig.agent('web-9', { app: 'other' }, { catalogue: [stats('GET /a')] });
    await until(() => rig.hub.hub.agentsIn('shop') !== undefined && [...rig.hub.hub.agentsIn('shop')].length === 1);
    rig.engine.close(); // flushes the catalogue queue to the store
    await gone.kill();
    await rig.restart();
    rig.engine.apply(rig.input('s1', SPEC));
    expect(rig.condition('s1', 'RequestTypeSeen')).toMatchObject({ status: 'True' });
  });

  it('clears when a request of the type is stored', async () => {
    const a = await rig.agent('web-1');
    rig.engine.apply(rig.input('s1', SPEC));
    await startOf(a, 's1');
    expect(rig.condition('s1', 'RequestTypeSeen')).toMatchObject({ status: 'False', message: expect.stringContaining('no agent in this namespace has reported any request type yet') });
    a.report('s1', reqs(1, 'a'));
    await until(() => rig.condition('s1', 'RequestTypeSeen')?.status === 'True');
  });
});

describe('nothing profiled is one outcome', () => {
  it('agents sampled until the deadline and no such request came: Failed, NothingProfiled, Ready NoMatchingRequests', async () => {
    const a = await rig.agent('web-1', { app: 'shop' }, { catalogue: [stats('GET /b')] });
    rig.engine.apply(rig.input('s1', { ...SPEC, requests: 5 }));
    await startOf(a, 's1');
    rig.clock.advance(60_000);
    await stopOf(a, 's1');
    const v = rig.view('s1');
    expect(v.status.phase).toBe('Failed');
    expect(v.status.progress).toBe('0/5');
    const complete = rig.condition('s1', 'Complete')!;
    expect(complete).toMatchObject({ status: 'True', reason: 'NothingProfiled' });
    expect(complete.message).toMatch(/^nothing profiled: 1 agent was sampling until the deadline and no agent ever reported a "GET \/a" request \(agents here reported "GET \/b"\)/);
    expect(rig.condition('s1', 'Ready')).toMatchObject({ status: 'False', reason: 'NoMatchingRequests' });
  });

  it('no pod matched: the same outcome, Ready says why', async () => {
    await rig.agent('admin-1', { app: 'admin' });
    rig.engine.apply(rig.input('s1', SPEC));
    await until(() => rig.condition('s1', 'Ready')?.reason === 'NoMatchingPods');
    rig.clock.advance(60_000);
    expect(rig.view('s1').status.phase).toBe('Failed');
    expect(rig.condition('s1', 'Complete')).toMatchObject({ reason: 'NothingProfiled', message: expect.stringContaining('none of the 1 agents in namespace shop matches the selector') });
    expect(rig.condition('s1', 'Ready')).toMatchObject({ status: 'False', reason: 'NoMatchingPods' });
  });

  it('an agent took requests before the deadline that had not arrived yet: partial results, not nothing', async () => {
    const a = await rig.agent('web-1');
    rig.engine.apply(rig.input('s1', { ...SPEC, requests: 5 }));
    await startOf(a, 's1');
    a.progress('s1', 0, 0, 2);
    await new Promise((r) => setTimeout(r, 50));
    rig.clock.advance(60_000);
    expect(rig.view('s1').status.phase).toBe('Completed');
    expect(rig.condition('s1', 'Complete')).toMatchObject({ reason: 'DeadlineExceeded' });
    a.report('s1', reqs(2, 'late'));
    await until(() => rig.view('s1').status.requestsProfiled === 2);
    expect(rig.condition('s1', 'Complete')!.message).toBe('deadline reached with partial results: 2 of 5 requests profiled');
  });

  it('a restart ended it with nothing stored, then the agent delivered what it held: Completed with the count', async () => {
    const a = await rig.agent('web-1');
    rig.engine.apply(rig.input('s1', { ...SPEC, requests: 5 }));
    await startOf(a, 's1');
    await a.kill();
    await rig.stop();
    rig.clock.advance(120_000);
    await rig.boot();
    await until(() => rig.engine.get('s1')?.status.phase === 'Failed');
    expect(rig.condition('s1', 'Complete')).toMatchObject({ reason: 'NothingProfiled', message: expect.stringMatching(/^the deadline passed while the operator was down; nothing profiled/) });
    const back = await rig.agent('web-1', { app: 'shop' }, { ended: ['s1'] });
    back.report('s1', reqs(3, 'held'));
    await until(() => rig.view('s1').status.requestsProfiled === 3);
    expect(rig.view('s1').status.phase).toBe('Completed');
    expect(rig.condition('s1', 'Complete')).toMatchObject({ reason: 'DeadlineExceeded', message: 'deadline reached with partial results: 3 of 5 requests profiled' });
  });

  it('lifeTransition: lateResults turns only a Failed session Completed', () => {
    expect(lifeTransition('Failed', { type: 'lateResults' })).toBe('Completed');
    for (const l of ['Invalid', 'Pending', 'Running', 'Stopping', 'Completed'] as const) expect(lifeTransition(l, { type: 'lateResults' })).toBe(l);
  });
});

describe('every place counts the same requests', () => {
  it('requests in flight at the stop move the status and the conditions together (was 210/200 beside "204 requests profiled")', async () => {
    const [a, b] = [await rig.agent('web-1'), await rig.agent('web-2')];
    rig.engine.apply(rig.input('s1', SPEC));
    await Promise.all([a, b].map((x) => startOf(x, 's1')));
    a.report('s1', reqs(6, 'a'));
    b.report('s1', reqs(5, 'b'));
    await until(() => rig.view('s1').status.phase === 'Completed');
    expect(new Set(countsIn(rig.view('s1')))).toEqual(new Set([11]));
    expect(rig.condition('s1', 'Complete')!.message).toBe('11 requests profiled (asked 10): 1 more were already under way when the agents were told to stop, and are kept');
    // Late: in flight at the stop.
    a.report('s1', reqs(2, 'a-late'));
    await until(() => rig.view('s1').status.requestsProfiled === 13);
    expect(new Set(countsIn(rig.view('s1')))).toEqual(new Set([13]));
    // What the listeners (the UI's event stream, the CR status) got last says the same.
    const last = rig.statuses.filter((v) => v.id === 's1').at(-1)!;
    expect(new Set(countsIn(last))).toEqual(new Set([13]));
    expect(new Set(countsIn(rig.store.getSession('s1')!))).toEqual(new Set([13]));
  });

  it('late requests to a session no longer in memory reword its conditions too', () => {
    const view = {
      id: 's', name: 's', namespace: 'shop', source: 'api', createdAt: '', generation: 1,
      spec: { ...SPEC, requests: 200 },
      status: {
        phase: 'Completed', requestsProfiled: 204, progress: '204/200', hotspots: [],
        pods: [{ name: 'web-1', requests: 204, samples: 10, state: 'Done' }],
        conditions: [
          { type: 'Complete', status: 'True', reason: 'RequestsReached', message: '204 requests profiled (asked 200): 4 more were already under way when the agents were told to stop, and are kept', lastTransitionTime: '' },
          { type: 'Ready', status: 'False', reason: 'RequestsReached', message: 'x', lastTransitionTime: '' },
        ],
      },
    } as SessionView;
    const after = withLateRequests(view, 'web-1', reqs(6, 'z'));
    expect(after.status.progress).toBe('210/200');
    expect(new Set(countsIn(after))).toEqual(new Set([210]));
  });
});
