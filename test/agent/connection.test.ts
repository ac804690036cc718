import type { Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { type Agent, startAgent } from '../../agent/index.js';
import { PROTOCOL_VERSION } from '../../src/protocol/messages.js';
// @ts-expect-error plain JS fixture shared with the child-process tests
import { plainApp } from './fixtures/apps.mjs';
import { FakeOperator } from './helpers/fake-operator.js';
import { get, until } from './helpers/load.js';
import { closeServer, listen, sleep } from './helpers/servers.js';

const FAST = { backoff: { baseMs: 50, capMs: 200 }, catalogueEveryMs: 200, progressEveryMs: 100, flushEveryMs: 20 };

describe('operator link', () => {
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

  const welcome = (heartbeatMs = 30_000) => ({ type: 'welcome', protocol: PROTOCOL_VERSION, agentId: 'a1', heartbeatMs });
  const start = (session: string, request: string, maxRequests: number, extra: object = {}) => ({
    type: 'start',
    session,
    request,
    maxRequests,
    deadline: Date.now() + 30_000,
    sampleIntervalMs: 5,
    ...extra,
  });

  it('says hello with its identity and token, runs a started session and streams its results', async () => {
    op = new FakeOperator();
    await op.start();
    agent = startAgent({ url: op.url, token: 's3cret', pod: { name: 'web-1', namespace: 'shop', uid: 'u-1' }, labels: { app: 'web' }, logLevel: 'silent', samplerWarmupMs: 0, collectEveryMs: 100, link: FAST });
    await until(() => op!.last?.messages.length === 1, 5000, 'hello');
    const c = op.last!;
    expect(c.authorization).toBe('Bearer s3cret');
    const hello = c.messages[0]!;
    expect(hello).toMatchObject({ type: 'hello', protocol: PROTOCOL_VERSION, pod: { name: 'web-1', namespace: 'shop', uid: 'u-1' }, labels: { app: 'web' }, sessions: [] });
    if (hello.type !== 'hello') throw new Error('not hello');
    expect(hello.agent).toMatchObject({ runtime: 'node', pid: process.pid });
    expect(Array.isArray(hello.catalogue)).toBe(true);

    c.send(welcome());
    c.send(start('s-1', 'GET /alpha/:id', 3));
    // A running session reports progress on the link's next tick (the first one whatever it holds);
    // waiting for it here, not after the end, keeps a session shorter than one tick from racing it.
    await until(() => op!.all('progress').some((m) => m.session === 's-1'), 3000, 'progress');
    for (let i = 0; i < 4; i++) await get(appPort, `/alpha/${i}`);
    await until(() => op!.all('ended').length === 1, 5000, 'ended');
    const batches = op.all('requests');
    expect(batches.map((b) => b.seq)).toEqual(batches.map((_, i) => i + 1));
    expect(batches.flatMap((b) => b.requests)).toHaveLength(3);
    expect(op.all('ended')[0]).toMatchObject({ session: 's-1', reason: 'requests', requests: 3 });
    await until(() => op!.all('catalogue').some((m) => m.entries.some((e) => e.type === 'GET /alpha/:id' && e.count >= 4)), 3000, 'a catalogue update');
    expect(op.all('progress')[0]).toMatchObject({ session: 's-1', requests: 0 });
    // A new connection's hello carries the catalogue as it stands.
    c.ws.close(1012, 'restart');
    await until(() => op!.connections.length === 2 && op!.last!.messages.length > 0, 5000, 'second hello');
    const again = op.last!.messages[0]!;
    expect(again.type === 'hello' && again.catalogue.find((e) => e.type === 'GET /alpha/:id')?.count).toBeGreaterThanOrEqual(4);
  });

  it('answers a malformed operator message with an error and stays connected', async () => {
    op = new FakeOperator();
    await op.start();
    agent = startAgent({ url: op.url, logLevel: 'silent', samplerWarmupMs: 0, collectEveryMs: 100, link: FAST });
    await until(() => op!.last?.messages.length === 1, 5000, 'hello');
    const c = op.last!;
    c.ws.send('{not json');
    c.send({ type: 'start', session: 's', request: 'GET /x', maxRequests: 0, deadline: 1, sampleIntervalMs: 5000 });
    c.send({ type: 'launch' });
    await until(() => c.messages.filter((m) => m.type === 'error').length === 3, 3000, 'three errors');
    const errors = c.messages.filter((m) => m.type === 'error');
    expect(errors.every((e) => e.type === 'error' && e.code === 'SONDE_BAD_MESSAGE')).toBe(true);
    expect(JSON.stringify(errors)).toMatch(/maxRequests.*sampleIntervalMs/);
    expect(c.closed).toBe(false);
    expect(op.connections).toHaveLength(1);
  });

  it('reconnects with the token file read afresh', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sonde-token-'));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'first\n');
    op = new FakeOperator();
    await op.start();
    agent = startAgent({ url: op.url, tokenFile, logLevel: 'silent', samplerWarmupMs: 0, collectEveryMs: 100, link: FAST });
    await until(() => op!.connections.length === 1, 5000, 'first connection');
    writeFileSync(tokenFile, 'rotated\n');
    op.last!.ws.close(1011, 'bye');
    await until(() => op!.connections.length === 2, 5000, 'reconnect');
    expect(op.connections.map((c) => c.authorization)).toEqual(['Bearer first', 'Bearer rotated']);
  });

  it('reconnects when the operator falls silent for three heartbeats', async () => {
    op = new FakeOperator();
    await op.start();
    agent = startAgent({ url: op.url, logLevel: 'silent', samplerWarmupMs: 0, collectEveryMs: 100, link: FAST });
    await until(() => op!.last?.messages.length === 1, 5000, 'hello');
    op.last!.send(welcome(150)); // and then never a ping
    const t0 = Date.now();
    await until(() => op!.connections.length === 2, 5000, 'reconnect after silence');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    expect(op.connections[0]!.closed).toBe(true);
  });

  it('keeps finished requests while the operator is away and sends them, in sequence, after reconnecting', async () => {
    op = new FakeOperator();
    await op.start();
    const port = op.port;
    agent = startAgent({ url: op.url, logLevel: 'silent', samplerWarmupMs: 0, collectEveryMs: 100, link: FAST });
    await until(() => op!.last?.messages.length === 1, 5000, 'hello');
    op.last!.send(welcome());
    op.last!.send(start('s-2', 'GET /alpha/:id', 6));
    await sleep(50);
    await get(appPort, '/alpha/1');
    await get(appPort, '/alpha/2');
    await until(() => op!.all('requests').flatMap((b) => b.requests).length === 2, 5000, 'first two records');
    const before = op;
    await before.stop(); // the operator goes away mid-session

    await get(appPort, '/alpha/3');
    await get(appPort, '/alpha/4');
    await sleep(300); // records are made and buffered while nobody listens

    op = new FakeOperator();
    await op.start(port);
    await until(() => op!.last?.messages.length === 1, 5000, 'hello after restart');
    const hello = op.last!.messages[0]!;
    expect(hello).toMatchObject({ type: 'hello', sessions: [{ session: 's-2', requests: 4 }] });
    op.last!.send(welcome());
    op.last!.send(start('s-2', 'GET /alpha/:id', 6, { alreadyReported: 2 })); // the resume: already running here
    await until(() => op!.all('requests').flatMap((b) => b.requests).length === 2, 5000, 'buffered records');
    await get(appPort, '/alpha/5');
    await get(appPort, '/alpha/6');
    await until(() => op!.all('ended').length === 1, 5000, 'ended');

    const seqs = [...before.all('requests'), ...op.all('requests')].map((b) => b.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    const ids = [...before.all('requests'), ...op.all('requests')].flatMap((b) => b.requests.map((r) => r.id));
    expect(new Set(ids).size).toBe(6);
    expect(op.all('ended')[0]).toMatchObject({ session: 's-2', reason: 'requests', requests: 6 });
  });

  it('holds nothing but results while the operator is away: progress and catalogue made meanwhile are sent afresh, not replayed', async () => {
    op = new FakeOperator();
    await op.start();
    const port = op.port;
    agent = startAgent({ url: op.url, logLevel: 'silent', samplerWarmupMs: 0, collectEveryMs: 100, link: FAST });
    await until(() => op!.last?.messages.length === 1, 5000, 'hello');
    op.last!.send(welcome());
    op.last!.send(start('s-3', 'GET /alpha/:id', 1000));
    await until(() => op!.all('progress').length > 0, 5000, 'first progress');
    await op.stop();

    // Away for many progress and catalogue ticks (100 ms and 200 ms): requests finish, a new type appears.
    for (let i = 0; i < 5; i++) {
      await get(appPort, `/alpha/${i}`);
      await get(appPort, `/beta/${i}`);
      await sleep(150);
    }
    op = new FakeOperator();
    await op.start(port);
    await until(() => op!.last?.messages.length === 1, 5000, 'hello after restart');
    const c = op.last!;
    expect(c.messages[0]).toMatchObject({ type: 'hello', sessions: [{ session: 's-3', requests: 5 }] });
    // The current catalogue travels in hello (GET /beta/:id was first seen while away).
    expect(JSON.stringify(c.messages[0])).toContain('GET /beta/:id');
    await sleep(400);
    expect(c.messages).toHaveLength(1); // before welcome, nothing but hello
    c.send(welcome());
    await until(() => c.messages.some((m) => m.type === 'progress'), 3000, 'progress after welcome');
    await sleep(400);
    // The held batches, then progress with the current count only; no backlog of the progress ticks that
    // passed while away (they would say 1 to 4 requests) nor of the catalogue.
    expect(c.messages.filter((m) => m.type === 'requests').flatMap((m) => (m.type === 'requests' ? m.requests : []))).toHaveLength(5);
    const progress = c.messages.filter((m) => m.type === 'progress');
    expect(progress.length).toBeGreaterThan(0);
    for (const p of progress) expect(p).toMatchObject({ session: 's-3', requests: 5 });
    expect(c.messages.filter((m) => m.type === 'catalogue')).toHaveLength(0);
  });

  it('stops a session when the operator says so', async () => {
    op = new FakeOperator();
    await op.start();
    agent = startAgent({ url: op.url, logLevel: 'silent', samplerWarmupMs: 0, collectEveryMs: 100, link: FAST });
    await until(() => op!.last?.messages.length === 1, 5000, 'hello');
    op.last!.send(welcome());
    op.last!.send(start('s-3', 'GET /alpha/:id', 100));
    await sleep(50);
    await get(appPort, '/alpha/1');
    op.last!.send({ type: 'stop', session: 's-3', reason: 'stopped' });
    await until(() => op!.all('ended').length === 1, 5000, 'ended');
    expect(op.all('ended')[0]).toMatchObject({ session: 's-3', reason: 'stopped', requests: 1 });
    expect(op.all('requests').flatMap((b) => b.requests)).toHaveLength(1);
  });

  it('never throws into the app when the operator is unreachable or its URL unusable', async () => {
    agent = startAgent({ url: 'ws://127.0.0.1:9/v1/agents', logLevel: 'silent', samplerWarmupMs: 0, collectEveryMs: 100, link: FAST });
    await sleep(300);
    expect(await get(appPort, '/alpha/1')).toBe(true);
    await agent.close();
    agent = startAgent({ url: 'ws://[not a host/v1/agents', logLevel: 'silent', link: FAST });
    await sleep(300); // several failed dials: any unhandled rejection would fail this test file
    expect(await get(appPort, '/alpha/2')).toBe(true);
  });
});
