import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AckMessage, StartMessage, StopMessage } from '../../../src/protocol/messages.js';
import { Engine } from '../../../operator/engine/engine.js';
import { HelloLabelDirectory } from '../../../operator/hub/hello-label-directory.js';
import { FakeAgent, fakeRequest } from '../../harness/fake-agent.js';
import { pod, silentLog, startHub, tokenFor, until } from '../hub/hub-server.js';
import { openStore, tempDir } from '../store/store-fixtures.js';
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

const reqs = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => fakeRequest('GET /a', { id: `${prefix}-${i}` }));
const startOf = (a: FakeAgent, session: string) => a.waitFor((m) => m.type === 'start' && m.session === session) as Promise<StartMessage>;
const stopOf = (a: FakeAgent, session: string) => a.waitFor((m) => m.type === 'stop' && m.session === session) as Promise<StopMessage>;
const ackOf = (a: FakeAgent, session: string, seq: number, n = 1) =>
  until(() => a.ofType('ack').filter((m) => m.session === session && m.seq === seq).length >= n, 5000, `ack ${session}#${seq}`).then(
    () => a.ofType('ack').filter((m) => m.session === session && m.seq === seq).at(-1) as AckMessage,
  );
const podState = (id: string, name: string) => rig.view(id).status.pods.find((p) => p.name === name)?.state;

/** An agent of another namespace: its token proves `evil/NAME`, nothing more. */
async function intruder(name: string, extra: Partial<Parameters<typeof FakeAgent.connect>[0]> = {}): Promise<FakeAgent> {
  const p = pod(name, 'evil');
  const a = await FakeAgent.connect({ url: rig.hub.url, token: tokenFor(p), pod: p, labels: { app: 'shop' }, pid: 1, acks: true, ...extra });
  rig.agents.push(a);
  return a;
}

describe('an agent speaks only for its own pod, in its own namespace', () => {
  it('a pod of another namespace with the same name cannot add records, end the part early, or spoil sequence numbers', async () => {
    const real = await rig.agent('web-1', { app: 'shop' }, { acks: true });
    rig.engine.apply(rig.input('s1', { ...SPEC, requests: 10 }));
    await startOf(real, 's1');
    real.report('s1', reqs(2, 'real'));
    await until(() => rig.view('s1').status.requestsProfiled === 2);

    // evil/web-1 claims prod's session in hello (running and ended), then reports on it as if it were shop/web-1.
    const evil = await intruder('web-1', { sessions: [{ session: 's1', requests: 0 }], ended: ['s1'] });
    expect((await stopOf(evil, 's1')).reason).toBe('stopped');
    evil.report('s1', reqs(5, 'evil'), 1_000_000_000);
    evil.progress('s1', 0, 999, 10_000);
    evil.ended('s1', 'requests', 10_000);
    await ackOf(evil, 's1', 1_000_000_000);
    // Its claim gave it nothing: no record, no stop of the real agent at a forged N, the pod still sampling.
    expect(rig.view('s1').status.requestsProfiled).toBe(2);
    expect(rig.store.requests('s1').map((r) => r.id).sort()).toEqual(['real-0', 'real-1']);
    expect(podState('s1', 'web-1')).toBe('Sampling');
    expect(rig.view('s1').status.phase).toBe('Running');
    expect(real.ofType('stop')).toHaveLength(0);
    expect(rig.view('s1').status.pods.map((p) => p.name)).toEqual(['web-1']);

    // The real agent's next batch (seq 2) is still taken: the forged seq did not move its high-water mark.
    real.report('s1', reqs(3, 'real-more'));
    await until(() => rig.view('s1').status.requestsProfiled === 5);
    expect(evil.isOpen).toBe(true);
  });

  it('a session of one namespace never starts or takes a pod of another, whatever its labels', async () => {
    const evil = await intruder('web-1');
    rig.engine.apply(rig.input('s1', SPEC));
    await new Promise((r) => setTimeout(r, 100));
    expect(evil.startOf('s1')).toBeUndefined();
    expect(rig.view('s1').status.phase).toBe('Pending');
    // Reports without any claim break the out-of-order rule: the connection closes.
    evil.report('s1', reqs(1, 'evil'));
    expect((await evil.closed).code).toBe(4007);
    expect(rig.store.requests('s1')).toEqual([]);
  });
});

describe('a recreated pod (same name, another uid)', () => {
  it('cannot claim the results of the pod it replaced', async () => {
    const a = await rig.agent('web-1', { app: 'shop' }, { acks: true });
    rig.engine.apply(rig.input('s1', { ...SPEC, requests: 100 }));
    await startOf(a, 's1');
    a.report('s1', reqs(1, 'a'));
    await until(() => rig.view('s1').status.requestsProfiled === 1);
    await a.kill();
    await until(() => podState('s1', 'web-1') === 'Lost');
    rig.engine.remove('s1');
    const other = await rig.agent('web-1', { app: 'shop' }, { acks: true, pod: { ...pod('web-1'), uid: 'uid-recreated' }, ended: ['s1'] });
    other.report('s1', reqs(2, 'forged'), 2);
    await ackOf(other, 's1', 2);
    expect(rig.view('s1').status.requestsProfiled).toBe(1);
    expect(podState('s1', 'web-1')).toBe('Lost');
  });
});

describe('nothing lost across an operator restart (ADR 0002)', () => {
  it('deadline passed while the operator was down: the held requests and the `ended` of a pod that took part are taken, the pod is Done', async () => {
    const a = await rig.agent('web-1', { app: 'shop' }, { acks: true });
    rig.engine.apply(rig.input('s1', { ...SPEC, requests: 100 }));
    await startOf(a, 's1');
    a.report('s1', reqs(2, 'before'));
    await until(() => rig.view('s1').status.requestsProfiled === 2);
    await rig.stop();
    await a.closed;
    // Down for two minutes: the deadline (1 m) passes, the agent ends the session by itself and holds 3 requests.
    rig.clock.advance(120_000);
    await rig.boot();
    expect(rig.view('s1').status.phase).toBe('Completed');
    expect(rig.condition('s1', 'Complete')!.reason).toBe('DeadlineExceeded');
    expect(podState('s1', 'web-1')).toBe('Lost');

    // Before the fix this hello named nothing and the held batch closed the connection with 4007.
    const back = await rig.agent('web-1', { app: 'shop' }, { acks: true, pid: 100, ended: ['s1'] });
    back.report('s1', reqs(3, 'held'), 2);
    back.ended('s1', 'deadline', 5);
    expect((await ackOf(back, 's1', 2)).retryAfterMs).toBeUndefined();
    await until(() => podState('s1', 'web-1') === 'Done');
    expect(back.isOpen).toBe(true);
    expect(rig.view('s1').status).toMatchObject({ phase: 'Completed', requestsProfiled: 5 });
    expect(rig.store.requests('s1')).toHaveLength(5);
    // The final status went to the listeners (the status writer) and the store, not only to memory.
    expect(rig.statuses.at(-1)!.status).toMatchObject({ phase: 'Completed', requestsProfiled: 5 });
    expect(rig.store.getSession('s1')!.status.pods[0]!.state).toBe('Done');
  });

  it('a pod that comes back after the session left memory still delivers what it held; its pod is Done', async () => {
    const a = await rig.agent('web-1', { app: 'shop' }, { acks: true });
    rig.engine.apply(rig.input('s1', { ...SPEC, requests: 100 }));
    await startOf(a, 's1');
    a.report('s1', reqs(1, 'before'));
    await until(() => rig.view('s1').status.requestsProfiled === 1);
    await rig.stop();
    rig.clock.advance(120_000);
    await rig.boot();
    rig.clock.advance(60_000); // the linger ends before the agent is back
    const back = await rig.agent('web-1', { app: 'shop' }, { acks: true, ended: ['s1'] });
    back.report('s1', reqs(4, 'held'), 2);
    back.ended('s1', 'deadline', 5);
    await ackOf(back, 's1', 2);
    await until(() => rig.store.getSession('s1')!.status.pods[0]!.state === 'Done');
    expect(rig.store.getSession('s1')!.status).toMatchObject({ phase: 'Completed', requestsProfiled: 5 });
    expect(rig.store.requests('s1')).toHaveLength(5);
  });

  it('N reached while the operator was down: resumed, the agents deliver what they held and the session completes', async () => {
    const [a, b] = [await rig.agent('web-1', { app: 'shop' }, { acks: true }), await rig.agent('web-2', { app: 'shop' }, { acks: true })];
    rig.engine.apply(rig.input('s1', { ...SPEC, requests: 6, maxRequestsPerPod: 3 }));
    await Promise.all([a, b].map((x) => startOf(x, 's1')));
    a.report('s1', reqs(2, 'a'));
    await until(() => rig.view('s1').status.requestsProfiled === 2);
    await rig.stop();
    rig.clock.advance(10_000);
    await rig.boot();
    expect(rig.view('s1').status).toMatchObject({ phase: 'Running', requestsProfiled: 2 });
    // Both reached their cap of 3 while the operator was away; both still hold batch 1 unacknowledged too.
    const a2 = await rig.agent('web-1', { app: 'shop' }, { acks: true, ended: ['s1'] });
    const b2 = await rig.agent('web-2', { app: 'shop' }, { acks: true, ended: ['s1'] });
    a2.report('s1', reqs(2, 'a'), 1);
    a2.report('s1', reqs(1, 'a-held'), 2);
    a2.ended('s1', 'requests', 3);
    b2.report('s1', reqs(3, 'b-held'), 1);
    b2.ended('s1', 'requests', 3);
    await until(() => rig.view('s1').status.phase === 'Completed');
    expect(rig.condition('s1', 'Complete')!.reason).toBe('RequestsReached');
    await until(() => rig.view('s1').status.pods.every((p) => p.state === 'Done'));
    expect(rig.view('s1').status.requestsProfiled).toBe(6);
    // Their parts had ended: not started again (that would take requests past the per-pod cap).
    expect(a2.startOf('s1')).toBeUndefined();
    expect(b2.startOf('s1')).toBeUndefined();
    expect(rig.store.requests('s1').map((r) => r.id).sort()).toEqual(['a-0', 'a-1', 'a-held-0', 'b-held-0', 'b-held-1', 'b-held-2']);
  });
});

describe('recovery waits for the pod directory', () => {
  it('agents are refused (503, they retry) and sessions not judged until the directory has synced', async () => {
    const a = await rig.agent('web-1', { app: 'shop' }, { acks: true });
    rig.engine.apply(rig.input('s1', SPEC));
    await startOf(a, 's1');
    a.report('s1', reqs(2, 'a'));
    await until(() => rig.view('s1').status.requestsProfiled === 2);
    await rig.stop();
    // A restarted operator whose pod directory has not listed yet.
    const store = openStore(rig.file, rig.clock);
    const hub = await startHub({ waitForListener: true });
    let synced!: () => void;
    const podsSynced = new Promise<void>((resolve) => (synced = resolve));
    const engine = new Engine({ hub: hub.hub, store, podDirectory: new HelloLabelDirectory(hub.hub), log: silentLog, baseURL: 'http://sonde.test/', clock: rig.clock, podsSynced });
    try {
      const p = pod('web-1');
      await expect(FakeAgent.connect({ url: hub.url, token: tokenFor(p), pod: p, labels: { app: 'shop' }, sessions: [{ session: 's1', requests: 2 }] })).rejects.toThrow(/503/);
      // Not recovered yet: the store still says what the previous operator left.
      expect(engine.get('s1')!.status.pods[0]!.state).toBe('Sampling');
      synced();
      await engine.ready;
      expect(engine.get('s1')!.status).toMatchObject({ phase: 'Running', requestsProfiled: 2 });
      expect(engine.get('s1')!.status.pods[0]!.state).toBe('Lost');
      const back = await FakeAgent.connect({ url: hub.url, token: tokenFor(p), pod: p, labels: { app: 'shop' }, sessions: [{ session: 's1', requests: 2 }] });
      rig.agents.push(back);
      expect((await startOf(back, 's1')).alreadyReported).toBe(2);
      await until(() => engine.get('s1')!.status.pods[0]!.state === 'Sampling');
    } finally {
      engine.close();
      await hub.close();
      store.close();
      await rig.boot(); // afterEach closes the rig's own parts
    }
  });
});

describe('a store that fails writes', () => {
  it('asks the agent to resend (ack with retryAfterMs), marks nothing seen, and takes the batch when it comes again', async () => {
    const a = await rig.agent('web-1', { app: 'shop' }, { acks: true });
    rig.engine.apply(rig.input('s1', SPEC));
    await startOf(a, 's1');
    a.report('s1', reqs(1, 'ok'));
    expect((await ackOf(a, 's1', 1)).retryAfterMs).toBeUndefined();
    // Real SQLite refusing writes (SQLITE_READONLY), as a full or read-only disk does.
    rig.store.db.pragma('query_only = ON');
    a.report('s1', reqs(2, 'retry'));
    a.report('s1', reqs(1, 'later'));
    expect((await ackOf(a, 's1', 2)).retryAfterMs).toBe(1000);
    expect((await ackOf(a, 's1', 3)).retryAfterMs).toBe(1000);
    expect(rig.view('s1').status.requestsProfiled).toBe(1);
    rig.store.db.pragma('query_only = OFF');
    // The agent resends both batches with their own sequence numbers: neither is taken for a duplicate.
    a.report('s1', reqs(2, 'retry'), 2);
    a.report('s1', reqs(1, 'later'), 3);
    expect((await ackOf(a, 's1', 3, 2)).retryAfterMs).toBeUndefined();
    await until(() => rig.view('s1').status.requestsProfiled === 4);
    // A third copy (an ack lost on the way) is a duplicate: acknowledged, not counted.
    a.report('s1', reqs(2, 'retry'), 2);
    await ackOf(a, 's1', 2, 3);
    expect(rig.store.requests('s1').map((r) => r.id).sort()).toEqual(['later-0', 'ok-0', 'retry-0', 'retry-1']);
    expect(rig.view('s1').status.requestsProfiled).toBe(4);
  });
});
