import type { Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Agent, startAgent } from '../../agent/index.js';
import { backoffDelay, DEFAULT_BACKOFF } from '../../agent/connection/backoff.js';
import { UnackedBatches } from '../../agent/connection/unacked-batches.js';
import { PROTOCOL_VERSION, type RequestsMessage } from '../../src/protocol/messages.js';
// @ts-expect-error plain JS fixture shared with the child-process tests
import { plainApp } from './fixtures/apps.mjs';
import { FakeOperator } from './helpers/fake-operator.js';
import { get, until } from './helpers/load.js';
import { closeServer, listen } from './helpers/servers.js';

const FAST = { backoff: { baseMs: 50, capMs: 200 }, catalogueEveryMs: 200, progressEveryMs: 100, flushEveryMs: 20 };

describe('the agent keeps results until the operator has them', () => {
  let app: Server;
  let appPort: number;
  let agent: Agent | undefined;
  let op: FakeOperator | undefined;

  beforeAll(async () => {
    app = plainApp({ alpha: 100_000, beta: 100_000 }) as Server;
    appPort = await listen(app);
  });
  afterAll(() => closeServer(app));
  afterEach(async () => {
    await agent?.close();
    agent = undefined;
    await op?.stop().catch(() => {});
    op = undefined;
  });

  const welcome = { type: 'welcome', protocol: PROTOCOL_VERSION, agentId: 'a1', heartbeatMs: 30_000, acks: true };

  it('resends a batch the store could not write, and after a reconnect every unacknowledged batch, naming the ended session in hello', async () => {
    op = new FakeOperator();
    await op.start();
    agent = startAgent({ url: op.url, pod: { name: 'web-1', namespace: 'shop', uid: 'u-1' }, labels: {}, logLevel: 'silent', samplerWarmupMs: 0, collectEveryMs: 50, link: FAST });
    await until(() => op!.last?.messages.length === 1, 5000, 'hello');
    expect(op.last!.messages[0]).toMatchObject({ type: 'hello', acks: true, ended: [] });
    const c1 = op.last!;
    c1.send(welcome);
    c1.send({ type: 'start', session: 's-1', request: 'GET /alpha/:id', maxRequests: 3, deadline: Date.now() + 30_000, sampleIntervalMs: 5 });
    await until(() => op!.all('progress').some((m) => m.session === 's-1'), 3000, 'progress');
    for (let i = 0; i < 3; i++) await get(appPort, `/alpha/${i}`);
    await until(() => op!.all('ended').length === 1, 5000, 'ended');
    const first = c1.messages.filter((m): m is RequestsMessage => m.type === 'requests');
    const ids = first.flatMap((b) => b.requests.map((r) => r.id));
    expect(ids).toHaveLength(3);

    // The store failed on batch 1: it comes again after retryAfterMs, the same batch under the same seq.
    c1.send({ type: 'ack', session: 's-1', seq: 1, retryAfterMs: 50 });
    await until(() => c1.messages.filter((m) => m.type === 'requests' && m.seq === 1).length === 2, 3000, 'batch 1 resent');
    const resent = c1.messages.filter((m): m is RequestsMessage => m.type === 'requests' && m.seq === 1);
    expect(resent[1]!.requests.map((r) => r.id)).toEqual(resent[0]!.requests.map((r) => r.id));

    // The operator dies before acknowledging anything else: the next hello names the ended session and
    // the welcome brings back every batch not acknowledged, before anything else.
    c1.ws.terminate();
    await until(() => op!.connections.length === 2 && op!.last!.messages.length > 0, 5000, 'second hello');
    const c2 = op.last!;
    expect(c2.messages[0]).toMatchObject({ type: 'hello', sessions: [], ended: ['s-1'], acks: true });
    c2.send(welcome);
    await until(() => c2.messages.filter((m) => m.type === 'requests').length === first.length, 3000, 'unacknowledged batches resent');
    const again = c2.messages.filter((m): m is RequestsMessage => m.type === 'requests');
    expect(again.flatMap((b) => b.requests.map((r) => r.id)).sort()).toEqual([...ids].sort());
    for (const b of again) c2.send({ type: 'ack', session: 's-1', seq: b.seq });

    // All acknowledged: a third connection holds nothing for the session.
    await new Promise((r) => setTimeout(r, 100));
    c2.ws.terminate();
    await until(() => op!.connections.length === 3 && op!.last!.messages.length > 0, 5000, 'third hello');
    expect(op.last!.messages[0]).toMatchObject({ type: 'hello', ended: [] });
    op.last!.send(welcome);
    await new Promise((r) => setTimeout(r, 200));
    expect(op.last!.messages.filter((m) => m.type === 'requests')).toEqual([]);
  });

  it('forgets sent batches at once for an operator without acknowledgements (welcome without acks)', async () => {
    op = new FakeOperator();
    await op.start();
    agent = startAgent({ url: op.url, pod: { name: 'web-1', namespace: 'shop', uid: 'u-1' }, labels: {}, logLevel: 'silent', samplerWarmupMs: 0, collectEveryMs: 50, link: FAST });
    await until(() => op!.last?.messages.length === 1, 5000, 'hello');
    const c1 = op.last!;
    c1.send({ ...welcome, acks: undefined });
    c1.send({ type: 'start', session: 's-2', request: 'GET /alpha/:id', maxRequests: 2, deadline: Date.now() + 30_000, sampleIntervalMs: 5 });
    await until(() => op!.all('progress').some((m) => m.session === 's-2'), 3000, 'progress');
    for (let i = 0; i < 2; i++) await get(appPort, `/alpha/${i}`);
    await until(() => op!.all('ended').length === 1, 5000, 'ended');
    c1.ws.terminate();
    await until(() => op!.connections.length === 2 && op!.last!.messages.length > 0, 5000, 'second hello');
    expect(op.last!.messages[0]).toMatchObject({ type: 'hello', ended: [] });
  });
});

describe('held batches and reconnect pacing', () => {
  it('UnackedBatches: keyed by session and seq, oldest dropped (and counted) past its bounds', () => {
    const u = new UnackedBatches(2, 1000);
    u.add('s', 1, 'one');
    u.add('s', 2, 'two');
    u.add('t', 1, 'three');
    expect(u.size).toBe(2);
    expect(u.dropped).toBe(1);
    expect(u.get('s', 1)).toBeUndefined();
    expect([...u.sessions()].sort()).toEqual(['s', 't']);
    u.remove('s', 2);
    expect([...u.sessions()]).toEqual(['t']);
    const sent: string[] = [];
    u.resend((t) => (sent.push(t), true), false);
    expect(sent).toEqual(['three']);
    expect(u.size).toBe(1);
  });

  it('backoff: short for a minute after a working link is lost (an operator restart), then back to the long cap', () => {
    const top = () => 1 - Number.EPSILON;
    // Eight failed attempts: 500 ms · 2^8 far above both caps.
    expect(backoffDelay(8, DEFAULT_BACKOFF, top)).toBe(29_999);
    expect(backoffDelay(8, DEFAULT_BACKOFF, top, 0)).toBe(1999);
    expect(backoffDelay(8, DEFAULT_BACKOFF, top, 59_000)).toBe(1999);
    expect(backoffDelay(8, DEFAULT_BACKOFF, top, 61_000)).toBe(29_999);
    expect(backoffDelay(0, DEFAULT_BACKOFF, top, 0)).toBe(499);
  });
});
