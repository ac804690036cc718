import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StartMessage, StopMessage } from '../../../src/protocol/messages.js';
import { FakeAgent, fakeRequest } from '../../harness/fake-agent.js';
import { pod, tokenFor, until } from '../hub/hub-server.js';
import { tempDir } from '../store/store-fixtures.js';
import { OperatorRig, SPEC } from './operator-rig.js';

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

const reqs = (n: number, prefix: string, hot = 'hotFunction') => Array.from({ length: n }, (_, i) => fakeRequest('GET /a', { id: `${prefix}-${i}`, hot }));
const stopOf = (a: FakeAgent, session: string) => a.waitFor((m) => m.type === 'stop' && m.session === session) as Promise<StopMessage>;
const startOf = (a: FakeAgent, session: string) => a.waitFor((m) => m.type === 'start' && m.session === session) as Promise<StartMessage>;

describe('session engine', () => {
  it('counts N across three agents, stops them all at N and keeps requests reported after the stop', async () => {
    const [a, b, c] = [await rig.agent('web-1'), await rig.agent('web-2'), await rig.agent('web-3')];
    const other = await rig.agent('admin-1', { app: 'admin' });
    rig.engine.apply(rig.input('s1', { ...SPEC, maxRequestsPerPod: 6 }));
    const starts = await Promise.all([a, b, c].map((x) => startOf(x, 's1')));
    expect(starts[0]).toMatchObject({ request: 'GET /a', maxRequests: 6, sampleIntervalMs: 10, deadline: rig.clock.now() + 60_000 });
    expect(starts[0]!.alreadyReported).toBeUndefined();
    expect(other.startOf('s1')).toBeUndefined();
    expect(rig.view('s1').status.phase).toBe('Running');
    expect(rig.condition('s1', 'Ready')).toMatchObject({ status: 'True', reason: 'Sampling', message: '3 of 3 pods sampling' });

    a.report('s1', reqs(4, 'a'));
    b.report('s1', reqs(3, 'b'));
    await until(() => rig.view('s1').status.requestsProfiled === 7);
    expect(rig.view('s1').status.phase).toBe('Running');
    c.report('s1', reqs(3, 'c'));
    const stops = await Promise.all([a, b, c].map((x) => stopOf(x, 's1')));
    expect(stops.map((s) => s.reason)).toEqual(['requests', 'requests', 'requests']);

    // Requests in flight at the stop arrive afterwards and are kept; a resent batch is not counted twice.
    a.report('s1', reqs(2, 'a-late'));
    b.report('s1', reqs(3, 'b'), 1);
    await until(() => rig.view('s1').status.requestsProfiled === 12);
    a.progress('s1', 6, 60);
    await new Promise((r) => setTimeout(r, 50));
    const v = rig.view('s1');
    expect(v.status).toMatchObject({ phase: 'Completed', requestsProfiled: 12, progress: '12/10', resultURL: 'http://sonde.test/#/sessions/s1', observedGeneration: 1 });
    expect(v.status.conditions.find((x) => x.type === 'Complete')).toMatchObject({ status: 'True', reason: 'RequestsReached' });
    expect(v.status.pods.map((p) => [p.name, p.requests, p.state])).toEqual([
      ['web-1', 6, 'Done'],
      ['web-2', 3, 'Done'],
      ['web-3', 3, 'Done'],
    ]);
    expect(v.status.hotspots[0]).toMatchObject({ frame: expect.stringMatching(/^hotFunction app\.js:\d+$/), selfPercent: expect.any(Number) });
    expect(v.status.hotspots[0]!.selfPercent).toBeGreaterThan(60);
    expect(v.status.startedAt).toBeDefined();
    expect(v.status.completedAt).toBeDefined();
    expect(rig.store.requests('s1')).toHaveLength(12);
    expect(rig.store.getSession('s1')!.status.phase).toBe('Completed');
  });

  it('says in the status the interval the stored samples stand for, when it is not the one asked', async () => {
    const a = await rig.agent('web-1');
    // An agent that could not sample at 2 ms (a V8 sampler shared with a 10 ms session): its samples are 10 ms each.
    rig.engine.apply(rig.input('s2', { ...SPEC, requests: 3, sampleInterval: '2ms' }));
    await startOf(a, 's2');
    a.report('s2', reqs(3, 'a'));
    await until(() => rig.view('s2').status.phase === 'Completed');
    const v = rig.view('s2');
    expect(v.spec.sampleInterval).toBe('2ms');
    expect(v.status.sampleInterval).toBe('10ms');
    expect(rig.store.getSession('s2')!.status.sampleInterval).toBe('10ms');
  });

  it('stops every agent once they have taken N between them, before their records arrive, and completes when they end', async () => {
    const [a, b] = [await rig.agent('web-1'), await rig.agent('web-2')];
    rig.engine.apply(rig.input('s1', SPEC));
    await Promise.all([a, b].map((x) => startOf(x, 's1')));
    // Taken counts come in progress (reported + inFlight): 4 + 5 is short of N = 10, nothing stops.
    a.progress('s1', 0, 0, 4);
    b.progress('s1', 0, 0, 5);
    await new Promise((r) => setTimeout(r, 50));
    expect(a.startOf('s1')).toBeDefined();
    expect(rig.view('s1').status.phase).toBe('Running');
    b.progress('s1', 0, 0, 6);
    const stops = await Promise.all([a, b].map((x) => stopOf(x, 's1')));
    expect(stops.map((s) => s.reason)).toEqual(['requests', 'requests']);
    // Stopping is not completing: the taken requests are still on their way.
    expect(rig.view('s1').status.phase).toBe('Running');
    a.report('s1', reqs(4, 'a'));
    a.ended('s1', 'stopped', 4);
    await until(() => rig.view('s1').status.pods.find((p) => p.name === 'web-1')?.state === 'Done');
    expect(rig.view('s1').status.phase).toBe('Running');
    b.report('s1', reqs(5, 'b'));
    b.ended('s1', 'stopped', 5);
    await until(() => rig.view('s1').status.phase === 'Completed');
    expect(rig.view('s1').status).toMatchObject({ requestsProfiled: 9, progress: '9/10' });
    expect(rig.condition('s1', 'Complete')).toMatchObject({ reason: 'RequestsReached' });
    expect(rig.store.requests('s1')).toHaveLength(9);
  });

  it('does not count what a replaced agent process took but never delivered', async () => {
    const [a, b] = [await rig.agent('web-1'), await rig.agent('web-2')];
    rig.engine.apply(rig.input('s1', SPEC));
    await Promise.all([a, b].map((x) => startOf(x, 's1')));
    a.progress('s1', 0, 0, 8); // took 8 …
    a.report('s1', reqs(3, 'a')); // … delivered 3, then died
    await until(() => rig.view('s1').status.requestsProfiled === 3);
    await a.kill();
    const again = await rig.agent('web-1', { app: 'shop' }, { pid: 101 });
    await startOf(again, 's1');
    again.progress('s1', 0, 0, 1);
    b.progress('s1', 0, 0, 3);
    // 3 stored + 1 + 3 taken is short of N = 10 (the dead process's 8 would have made it 11).
    await new Promise((r) => setTimeout(r, 100));
    expect(b.received.some((m) => m.type === 'stop')).toBe(false);
    expect(rig.view('s1').status.phase).toBe('Running');
  });

  it('ends at the deadline with partial results marked', async () => {
    const [a, b] = [await rig.agent('web-1'), await rig.agent('web-2')];
    rig.engine.apply(rig.input('s1', { ...SPEC, requests: 100 }));
    await Promise.all([a, b].map((x) => startOf(x, 's1')));
    a.report('s1', reqs(3, 'a'));
    await until(() => rig.view('s1').status.requestsProfiled === 3);
    rig.clock.advance(59_000);
    expect(rig.view('s1').status.phase).toBe('Running');
    rig.clock.advance(1000);
    expect((await Promise.all([a, b].map((x) => stopOf(x, 's1')))).map((s) => s.reason)).toEqual(['deadline', 'deadline']);
    const v = rig.view('s1');
    expect(v.status.phase).toBe('Completed');
    expect(v.status.progress).toBe('3/100');
    expect(rig.condition('s1', 'Complete')).toMatchObject({ status: 'True', reason: 'DeadlineExceeded', message: expect.stringMatching(/partial results: 3 of 100/) });
    expect(rig.store.tree('s1').totals.samples).toBe(30);
  });

  it('waits Pending with NoAgents / NoMatchingPods, then fails at the deadline if nothing matched', async () => {
    rig.engine.apply(rig.input('none', SPEC));
    expect(rig.view('none').status.phase).toBe('Pending');
    expect(rig.condition('none', 'Ready')).toMatchObject({ status: 'False', reason: 'NoAgents' });

    await rig.agent('admin-1', { app: 'admin' });
    await until(() => rig.condition('none', 'Ready')?.reason === 'NoMatchingPods');
    expect(rig.condition('none', 'Ready')!.message).toMatch(/none of the 1 agents/);
    rig.clock.advance(60_000);
    const v = rig.view('none');
    expect(v.status.phase).toBe('Failed');
    // Nothing profiled is one outcome (issue 14); Ready keeps the cause.
    expect(rig.condition('none', 'Complete')).toMatchObject({ status: 'True', reason: 'NothingProfiled' });
    expect(rig.condition('none', 'Ready')).toMatchObject({ status: 'False', reason: 'NoMatchingPods' });
  });

  it('starts agents that connect after the session was applied', async () => {
    rig.engine.apply(rig.input('s1', SPEC));
    expect(rig.view('s1').status.phase).toBe('Pending');
    const a = await rig.agent('web-1');
    await startOf(a, 's1');
    await until(() => rig.view('s1').status.phase === 'Running');
    expect(rig.condition('s1', 'Ready')).toMatchObject({ status: 'True', reason: 'Sampling' });
  });

  it('keeps the finished requests of an agent killed mid-session; it resumes when its pod reconnects', async () => {
    const [a, b] = [await rig.agent('web-1'), await rig.agent('web-2')];
    rig.engine.apply(rig.input('s1', SPEC));
    await Promise.all([a, b].map((x) => startOf(x, 's1')));
    a.report('s1', reqs(3, 'a'));
    await until(() => rig.view('s1').status.requestsProfiled === 3);
    await a.kill();
    await until(() => rig.view('s1').status.pods.find((p) => p.name === 'web-1')?.state === 'Lost');
    expect(rig.view('s1').status).toMatchObject({ phase: 'Running', requestsProfiled: 3 });
    expect(rig.condition('s1', 'Ready')).toMatchObject({ status: 'True', message: '1 of 2 pods sampling' });
    await b.kill();
    await until(() => rig.condition('s1', 'Ready')?.reason === 'AgentsLost');
    expect(rig.store.requests('s1', { pod: 'web-1' })).toHaveLength(3);

    const again = await rig.agent('web-1', { app: 'shop' }, { pid: 101 });
    const start = await startOf(again, 's1');
    expect(start.alreadyReported).toBe(3);
    await until(() => rig.condition('s1', 'Ready')?.reason === 'Sampling');
    // A new process restarts its sequence numbers: seq 1 again is new data, not a duplicate.
    again.report('s1', reqs(2, 'a2'));
    await until(() => rig.view('s1').status.requestsProfiled === 5);
  });

  it('resumes a running session after an operator restart without losing a completed request', async () => {
    const a = await rig.agent('web-1');
    const b = await rig.agent('web-2');
    rig.engine.apply(rig.input('done', { ...SPEC, requests: 2 }));
    rig.engine.apply(rig.input('s1', { ...SPEC, requests: 6 }));
    await Promise.all([a, b].map((x) => startOf(x, 'done')));
    await Promise.all([a, b].map((x) => startOf(x, 's1')));
    a.report('done', reqs(2, 'done'));
    a.report('s1', reqs(2, 'a'));
    b.report('s1', reqs(2, 'b'));
    await until(() => rig.view('s1').status.requestsProfiled === 4 && rig.view('done').status.phase === 'Completed');
    const doneTree = rig.store.tree('done').totals;

    await rig.restart();
    await Promise.all([a.closed, b.closed]);
    expect(rig.view('done').status.phase).toBe('Completed');
    expect(rig.store.tree('done').totals).toEqual(doneTree);
    const resumed = rig.view('s1');
    expect(resumed.status).toMatchObject({ phase: 'Running', requestsProfiled: 4 });
    expect(resumed.status.pods.map((p) => p.state)).toEqual(['Lost', 'Lost']);

    // The agent reconnects claiming the session; it reports one batch again (lost ack) and two new requests.
    const a2 = await rig.agent('web-1', { app: 'shop' }, { sessions: [{ session: 's1', requests: 2 }, { session: 'done', requests: 2 }] });
    const start = await startOf(a2, 's1');
    expect(start.alreadyReported).toBe(2);
    expect((await stopOf(a2, 'done')).reason).toBe('stopped');
    a2.report('s1', reqs(2, 'a'), 1);
    a2.report('s1', reqs(2, 'a-new'), 2);
    await until(() => rig.view('s1').status.phase === 'Completed');
    expect(rig.view('s1').status.requestsProfiled).toBe(6);

    // The other agent comes back after the end with a request that was in flight: it is kept too.
    const b2 = await rig.agent('web-2', { app: 'shop' }, { sessions: [{ session: 's1', requests: 2 }] });
    await stopOf(b2, 's1');
    b2.report('s1', reqs(1, 'b-late'), 2);
    await until(() => rig.view('s1').status.requestsProfiled === 7);
    expect(rig.store.requests('s1').map((r) => r.id).sort()).toEqual(['a-0', 'a-1', 'a-new-0', 'a-new-1', 'b-0', 'b-1', 'b-late-0']);
  });

  it('after a restart past the deadline, ends running sessions with their partial results', async () => {
    const a = await rig.agent('web-1');
    rig.engine.apply(rig.input('s1', SPEC));
    rig.engine.apply(rig.input('empty', { ...SPEC, selector: { matchLabels: { app: 'nobody' } } }));
    await startOf(a, 's1');
    a.report('s1', reqs(1, 'a'));
    await until(() => rig.view('s1').status.requestsProfiled === 1);
    await rig.stop();
    rig.clock.advance(120_000);
    await rig.boot();
    expect(rig.view('s1').status.phase).toBe('Completed');
    expect(rig.condition('s1', 'Complete')).toMatchObject({ reason: 'DeadlineExceeded', message: expect.stringMatching(/partial results: 1 of 10/) });
    expect(rig.view('empty').status.phase).toBe('Failed');
    expect(rig.store.requests('s1')).toHaveLength(1);
  });

  it('ends restarted sessions with OperatorRestarted when resuming is off', async () => {
    const a = await rig.agent('web-1');
    rig.engine.apply(rig.input('s1', SPEC));
    await startOf(a, 's1');
    a.report('s1', reqs(1, 'a'));
    await until(() => rig.view('s1').status.requestsProfiled === 1);
    await rig.stop();
    (rig.options as { resumeOnRestart?: boolean }).resumeOnRestart = false;
    await rig.boot();
    expect(rig.view('s1').status.phase).toBe('Completed');
    expect(rig.condition('s1', 'Complete')!.reason).toBe('OperatorRestarted');
  });

  it('applies spec edits before sampling starts and refuses them after', async () => {
    rig.engine.apply(rig.input('s1', SPEC));
    rig.engine.apply(rig.input('s1', { ...SPEC, requests: 50 }, 2));
    expect(rig.view('s1').spec.requests).toBe(50);
    expect(rig.view('s1').status.observedGeneration).toBe(2);
    expect(rig.condition('s1', 'SpecAccepted')).toMatchObject({ status: 'True', reason: 'Accepted' });

    const a = await rig.agent('web-1');
    expect((await startOf(a, 's1')).maxRequests).toBe(50);
    const accepted = rig.condition('s1', 'SpecAccepted')!;
    rig.clock.advance(1000);
    rig.engine.apply(rig.input('s1', { ...SPEC, requests: 70 }, 3));
    const refused = rig.condition('s1', 'SpecAccepted')!;
    expect(refused).toMatchObject({ status: 'False', reason: 'SpecChangeRefused', observedGeneration: 3 });
    expect(refused.lastTransitionTime).not.toBe(accepted.lastTransitionTime);
    expect(rig.view('s1').spec.requests).toBe(50);
    expect(rig.view('s1').status.observedGeneration).toBe(3);
    expect(a.ofType('start')).toHaveLength(1);

    // Back to the running spec (defaults spelled out): accepted again.
    rig.engine.apply(rig.input('s1', { ...SPEC, requests: 50, sampleInterval: '10ms' }, 4));
    expect(rig.condition('s1', 'SpecAccepted')).toMatchObject({ status: 'True', reason: 'Accepted' });

    // Same generation again: idempotent, nothing emitted.
    const emitted = rig.statuses.length;
    rig.engine.apply(rig.input('s1', { ...SPEC, requests: 50 }, 4));
    expect(rig.statuses.length).toBe(emitted);
  });

  it('fails an invalid spec with the problems, and takes a fixed one', async () => {
    rig.engine.apply(rig.input('bad', { ...SPEC, requests: 0, duration: 'soon' }));
    const v = rig.view('bad');
    expect(v.status.phase).toBe('Failed');
    expect(rig.condition('bad', 'SpecAccepted')).toMatchObject({ status: 'False', reason: 'InvalidSpec', message: expect.stringMatching(/spec\.requests.*spec\.duration/) });
    rig.engine.apply(rig.input('bad', SPEC, 2));
    expect(rig.view('bad').status.phase).toBe('Pending');
    expect(rig.condition('bad', 'SpecAccepted')!.status).toBe('True');

    // The same after the failed session left memory (linger over, or a restart).
    rig.engine.apply(rig.input('bad2', { ...SPEC, request: '' }));
    rig.clock.advance(60_000);
    await rig.restart();
    rig.engine.apply(rig.input('bad2', SPEC, 2));
    expect(rig.view('bad2').status.phase).toBe('Pending');
  });

  it('refuses a spec change on a finished session found only in the store', async () => {
    rig.engine.apply(rig.input('s1', SPEC));
    rig.clock.advance(60_000);
    await rig.restart();
    rig.engine.apply(rig.input('s1', { ...SPEC, requests: 20 }, 2));
    expect(rig.view('s1').status.phase).toBe('Failed');
    expect(rig.condition('s1', 'SpecAccepted')).toMatchObject({ status: 'False', reason: 'SpecChangeRefused' });
    expect(rig.store.getSession('s1')!.status.observedGeneration).toBe(2);
  });

  it('remove() stops the agents and keeps the results', async () => {
    const a = await rig.agent('web-1');
    rig.engine.apply(rig.input('s1', SPEC));
    await startOf(a, 's1');
    a.report('s1', reqs(2, 'a'));
    await until(() => rig.view('s1').status.requestsProfiled === 2);
    rig.engine.remove('s1');
    expect((await stopOf(a, 's1')).reason).toBe('stopped');
    expect(rig.view('s1').status.phase).toBe('Completed');
    expect(rig.condition('s1', 'Complete')!.reason).toBe('Deleted');
    expect(rig.store.tree('s1').totals.samples).toBe(20);
  });

  it('purge() stops a running session and deletes it for good', async () => {
    const a = await rig.agent('web-1');
    rig.engine.apply(rig.input('s1', SPEC));
    await startOf(a, 's1');
    a.report('s1', reqs(2, 'a'));
    await until(() => rig.view('s1').status.requestsProfiled === 2);
    a.progress('s1', 2, 99); // leaves a throttled status write pending
    await until(() => rig.engine.get('s1')!.status.pods[0]!.samples === 99);
    expect(rig.engine.purge('s1')).toBe(true);
    expect((await stopOf(a, 's1')).reason).toBe('stopped');
    rig.clock.advance(120_000);
    expect(rig.engine.get('s1')).toBeUndefined();
    expect(rig.store.getSession('s1')).toBeUndefined();
    expect(rig.store.requests('s1')).toEqual([]);
    expect(rig.engine.purge('s1')).toBe(false);
  });

  it('fails with SamplerFailed when every pod reports a sampler error', async () => {
    const a = await rig.agent('web-1');
    rig.engine.apply(rig.input('s1', SPEC));
    await startOf(a, 's1');
    a.ended('s1', 'error', 0, 0, 'pprof could not start');
    await until(() => rig.view('s1').status.phase === 'Failed');
    expect(rig.condition('s1', 'Complete')).toMatchObject({ reason: 'SamplerFailed', message: expect.stringMatching(/pprof could not start/) });
    expect(rig.view('s1').status.pods[0]).toMatchObject({ state: 'Failed', message: 'pprof could not start' });
  });

  it('throttles progress-only status updates to a few per second', async () => {
    const a = await rig.agent('web-1');
    rig.engine.apply(rig.input('s1', SPEC));
    await startOf(a, 's1');
    await until(() => rig.view('s1').status.phase === 'Running');
    const before = rig.statuses.length;
    for (let i = 1; i <= 20; i++) a.progress('s1', 0, i * 10);
    await until(() => rig.engine.get('s1')!.status.pods[0]!.samples === 200);
    const during = rig.statuses.length - before;
    expect(during).toBeLessThanOrEqual(1);
    rig.clock.advance(250);
    expect(rig.statuses.at(-1)!.status.pods[0]!.samples).toBe(200);
    expect(rig.store.getSession('s1')!.status.pods[0]!.samples).toBe(200);
  });

  it('forgets a finished session after the linger; its results stay', async () => {
    const a = await rig.agent('web-1');
    rig.engine.apply(rig.input('s1', { ...SPEC, requests: 1 }));
    await startOf(a, 's1');
    a.report('s1', reqs(1, 'a'));
    await stopOf(a, 's1');
    a.report('s1', reqs(1, 'late'));
    await until(() => rig.view('s1').status.requestsProfiled === 2);
    expect(rig.hub.hub.agents()[0]!.sessions).toEqual(['s1']);
    rig.clock.advance(60_000);
    expect(rig.hub.hub.agents()[0]!.sessions).toEqual([]);
    expect(rig.view('s1').status).toMatchObject({ phase: 'Completed', requestsProfiled: 2 });
    expect(rig.engine.list().map((v) => v.id)).toEqual(['s1']);
    // Reports on it now break the out-of-order rule.
    a.report('s1', reqs(1, 'later'));
    expect((await a.closed).code).toBe(4007);
    expect(rig.store.requests('s1')).toHaveLength(2);
  });

  it('stores the agents catalogue in batches', async () => {
    await rig.agent('web-1', { app: 'shop' }, { catalogue: [{ type: 'GET /a', count: 5, errors: 1, p50Ms: 2, p90Ms: 4, p99Ms: 9 }] });
    await until(() => rig.hub.hub.size === 1);
    expect(rig.store.catalogueSnapshots()).toEqual([]);
    rig.clock.advance(5000);
    expect(rig.store.catalogueSnapshots().map((c) => [c.pod.name, c.workload, c.entries[0]!.count])).toEqual([['web-1', 'web', 5]]);
  });

  it('drops requests of another type and from pods outside the session', async () => {
    const a = await rig.agent('web-1');
    rig.engine.apply(rig.input('s1', SPEC));
    await startOf(a, 's1');
    a.report('s1', [fakeRequest('GET /other', { id: 'x' }), fakeRequest('GET /a', { id: 'y' })]);
    await until(() => rig.view('s1').status.requestsProfiled === 1);
    expect(rig.store.requests('s1').map((r) => r.id)).toEqual(['y']);
    // A pod that never matched cannot inject data by claiming the session in hello.
    const p = pod('admin-1');
    const intruder = await FakeAgent.connect({ url: rig.hub.url, token: tokenFor(p), pod: p, labels: { app: 'admin' }, sessions: [{ session: 's1', requests: 0 }] });
    rig.agents.push(intruder);
    intruder.report('s1', reqs(3, 'evil'));
    await new Promise((r) => setTimeout(r, 100));
    expect(rig.view('s1').status.requestsProfiled).toBe(1);
  });
});
