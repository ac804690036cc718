import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StartMessage, StopMessage } from '../../../src/protocol/messages.js';
import { type FakeAgent, fakeRequest } from '../../harness/fake-agent.js';
import { until } from '../hub/hub-server.js';
import { tempDir } from '../store/store-fixtures.js';
import { OperatorRig, SPEC } from './operator-rig.js';

/** Several agent processes in one pod (pre-fork workers, Node cluster): each its own part, the pod one row. */

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
const stopOf = (a: FakeAgent, session: string) => a.waitFor((m) => m.type === 'stop' && m.session === session) as Promise<StopMessage>;
const startOf = (a: FakeAgent, session: string) => a.waitFor((m) => m.type === 'start' && m.session === session) as Promise<StartMessage>;
const worker = (pid: number, instance = `i${pid}`) => rig.agent('web-1', { app: 'shop' }, { pid, instance, acks: true });

describe('several agent processes per pod', () => {
  it('starts every process of a pod, takes each one\'s own sequence numbers and counts N across them', async () => {
    const [w1, w2] = [await worker(11), await worker(12)];
    rig.engine.apply(rig.input('s1', SPEC));
    await Promise.all([w1, w2].map((w) => startOf(w, 's1')));
    expect(rig.condition('s1', 'Ready')).toMatchObject({ status: 'True', message: '1 of 1 pods sampling' });
    // Both number their batches from 1, with the same request ids: neither is a duplicate of the other.
    w1.report('s1', reqs(4, 'r'), 1);
    w2.report('s1', reqs(4, 'r'), 1);
    await until(() => rig.view('s1').status.requestsProfiled === 8);
    // The ack travels over each socket after the store wrote the batch: wait for it, then compare.
    const ackOf = (a: FakeAgent) => a.waitFor((m) => m.type === 'ack' && m.session === 's1');
    expect(await ackOf(w1)).toEqual({ type: 'ack', session: 's1', seq: 1 });
    expect(await ackOf(w2)).toEqual({ type: 'ack', session: 's1', seq: 1 });
    // A resend of w1's batch 1 is a duplicate for w1 only.
    w1.report('s1', reqs(4, 'r'), 1);
    w2.report('s1', reqs(2, 's'), 2);
    const stops = await Promise.all([w1, w2].map((w) => stopOf(w, 's1')));
    expect(stops.map((s) => s.reason)).toEqual(['requests', 'requests']);
    await until(() => rig.view('s1').status.phase === 'Completed');
    const v = rig.view('s1');
    expect(v.status.requestsProfiled).toBe(10);
    expect(v.status.pods).toEqual([{ name: 'web-1', requests: 10, samples: 100, state: 'Done', processes: 2 }]);
    expect(rig.store.requests('s1', { pod: 'web-1' })).toHaveLength(10);
  });

  it('caps a pod across its processes: at maxRequestsPerPod every process of it stops, and no new one starts', async () => {
    const [w1, w2] = [await worker(11), await worker(12)];
    const other = await rig.agent('web-2', { app: 'shop' }, { pid: 11 });
    rig.engine.apply(rig.input('s1', { ...SPEC, requests: 20, maxRequestsPerPod: 5 }));
    const starts = await Promise.all([w1, w2, other].map((w) => startOf(w, 's1')));
    expect(starts.map((s) => s.maxRequests)).toEqual([5, 5, 5]);
    w1.report('s1', reqs(3, 'a'));
    await until(() => rig.view('s1').status.requestsProfiled === 3);
    // A process that joins the pod later is told what the pod already reported.
    const w3 = await worker(13);
    expect((await startOf(w3, 's1')).alreadyReported).toBe(3);
    w2.progress('s1', 2, 20);
    const stops = await Promise.all([w1, w2, w3].map((w) => stopOf(w, 's1')));
    expect(stops.map((s) => s.reason)).toEqual(['requests', 'requests', 'requests']);
    expect(other.received.some((m) => m.type === 'stop')).toBe(false);
    const late = await worker(14);
    await new Promise((r) => setTimeout(r, 100));
    expect(late.startOf('s1')).toBeUndefined();
    expect(rig.view('s1').status.phase).toBe('Running');
  });

  it('a restarted process reusing the pid replaces its predecessor and numbers its batches afresh; its sibling is untouched', async () => {
    const [w1, w2] = [await worker(1, 'first'), await worker(2)];
    rig.engine.apply(rig.input('s1', SPEC));
    await Promise.all([w1, w2].map((w) => startOf(w, 's1')));
    w1.report('s1', reqs(3, 'a'), 1);
    await until(() => rig.view('s1').status.requestsProfiled === 3);
    const again = await worker(1, 'second');
    expect(await w1.closed).toMatchObject({ code: 4008 });
    expect((await startOf(again, 's1')).alreadyReported).toBe(3);
    // Another incarnation: its seq 1 is new data, not a resend of the first one's.
    again.report('s1', reqs(2, 'b'), 1);
    await until(() => rig.view('s1').status.requestsProfiled === 5);
    expect(w2.isOpen).toBe(true);
    expect(rig.view('s1').status.pods).toEqual([expect.objectContaining({ name: 'web-1', requests: 5, state: 'Sampling', processes: 2 })]);
    // The same incarnation reconnecting (a network blip) resends batch 1: a duplicate.
    const blip = await worker(1, 'second');
    await startOf(blip, 's1');
    blip.report('s1', reqs(2, 'b'), 1);
    await until(() => blip.received.some((m) => m.type === 'ack' && m.seq === 1));
    expect(rig.view('s1').status.requestsProfiled).toBe(5);
  });

  it('after an operator restart the pod\'s processes come back: the first takes the pod\'s part, the next gets its own', async () => {
    const [w1, w2] = [await worker(11), await worker(12)];
    rig.engine.apply(rig.input('s1', { ...SPEC, requests: 30 }));
    await Promise.all([w1, w2].map((w) => startOf(w, 's1')));
    w1.report('s1', reqs(3, 'a'));
    w2.report('s1', reqs(2, 'b'));
    await until(() => rig.view('s1').status.requestsProfiled === 5);
    await rig.restart();
    rig.engine.apply(rig.input('s1', { ...SPEC, requests: 30 }));
    expect(rig.view('s1').status.pods).toEqual([expect.objectContaining({ name: 'web-1', requests: 5, state: 'Lost' })]);
    const [b1, b2] = [await worker(11), await worker(12)];
    await Promise.all([b1, b2].map((w) => startOf(w, 's1')));
    await until(() => rig.condition('s1', 'Ready')?.reason === 'Sampling');
    b2.report('s1', reqs(1, 'c'), 1);
    await until(() => rig.view('s1').status.requestsProfiled === 6);
    expect(rig.view('s1').status.pods).toEqual([expect.objectContaining({ name: 'web-1', requests: 6, state: 'Sampling', processes: 2 })]);
  });
});
