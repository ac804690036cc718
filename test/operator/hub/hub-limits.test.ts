import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentHub } from '../../../operator/hub/agent-hub.js';
import { PROTOCOL_LIMITS, type PodIdentity, type RequestTypeStats } from '../../../src/protocol/messages.js';
import { ManualClock } from '../../../operator/clock.js';
import type { AgentAuthenticator, AuthResult } from '../../../operator/engine/contracts.js';
import { DEFAULT_CONNECTION_LIMITS, TokenBucket, requestBudget } from '../../../operator/hub/connection-limits.js';
import { TokenReviewAuthenticator } from '../../../operator/kube/token-review-authenticator.js';
import { sharedTokenAuthenticator } from '../../../operator/standalone/shared-token.js';
import { fakeKubeConfig, FakeKubeApiServer } from '../../fake-kube/index.js';
import { FakeAgent, fakeRequest } from '../../harness/fake-agent.js';
import { type HubServer, RecordingListener, pod, podTokenAuthenticator, silentLog, startHub, tokenFor, until } from './hub-server.js';

const open: HubServer[] = [];
const agents: FakeAgent[] = [];

async function hub(options: Parameters<typeof startHub>[0] = {}): Promise<{ h: HubServer; listener: RecordingListener }> {
  const listener = new RecordingListener();
  const h = await startHub({ listener, ...options });
  open.push(h);
  return { h, listener };
}

async function connect(h: HubServer, name: string, extra: Partial<Parameters<typeof FakeAgent.connect>[0]> = {}): Promise<FakeAgent> {
  const p = pod(name);
  const a = await FakeAgent.connect({ url: h.url, token: tokenFor(p), pod: p, labels: { app: 'shop' }, ...extra });
  agents.push(a);
  return a;
}

async function raw(h: HubServer, name: string, extra: Partial<Parameters<typeof FakeAgent.open>[0]> = {}): Promise<FakeAgent> {
  const p = pod(name);
  const a = await FakeAgent.open({ url: h.url, token: tokenFor(p), pod: p, ...extra });
  agents.push(a);
  return a;
}

/** An authenticator whose answers the test releases: sockets stay pending (between hello and welcome) meanwhile. */
function heldAuthenticator(): AgentAuthenticator & { release(): void; waiting: number } {
  const held: (() => void)[] = [];
  return {
    get waiting() {
      return held.length;
    },
    authenticate(token: string | undefined, claimed: PodIdentity): Promise<AuthResult> {
      return new Promise((resolve) => held.push(() => void podTokenAuthenticator.authenticate(token, claimed).then(resolve)));
    },
    release() {
      for (const r of held.splice(0)) r();
    },
  };
}

function bigCatalogue(bytes: number): RequestTypeStats[] {
  const entry = (i: number): RequestTypeStats => ({ type: `GET /route-${i}/${'x'.repeat(200)}`, count: 1, errors: 0, p50Ms: 1, p90Ms: 2, p99Ms: 3 });
  return Array.from({ length: Math.ceil(bytes / 280) }, (_, i) => entry(i));
}

afterEach(async () => {
  for (const a of agents.splice(0)) a.kill();
  for (const h of open.splice(0)) await h.close();
});

describe('hub limits before welcome', () => {
  it('closes with 1009 a frame over the hello limit before welcome, without buffering 8 MiB', async () => {
    const { h } = await hub();
    const good = await connect(h, 'good');
    const big = await raw(h, 'big', { hello: false });
    big.sendRaw('x'.repeat(PROTOCOL_LIMITS.maxHelloBytes + 1));
    expect((await big.closed).code).toBe(1009);
    await until(() => h.hub.counters().errorsByCode.SONDE_TREE_TOO_LARGE === 1);
    expect(h.hub.counters().pending).toBe(0);
    expect(good.isOpen).toBe(true);
  });

  it('refuses a hello whose catalogue is bigger than the hello limit', async () => {
    const { h } = await hub();
    const a = await raw(h, 'web-1', { catalogue: bigCatalogue(PROTOCOL_LIMITS.maxHelloBytes + 1024) });
    expect((await a.closed).code).toBe(1009);
  });

  it('after welcome, the same agent may send a message far above the hello limit', async () => {
    const { h, listener } = await hub();
    const a = await connect(h, 'web-1');
    const entries = bigCatalogue(4 * PROTOCOL_LIMITS.maxHelloBytes);
    expect(JSON.stringify(entries).length).toBeGreaterThan(3 * PROTOCOL_LIMITS.maxHelloBytes);
    a.send({ type: 'catalogue', entries: entries.slice(0, PROTOCOL_LIMITS.maxCatalogueEntries) });
    await until(() => listener.reports('catalogue').length === 1);
    expect(a.isOpen).toBe(true);
  });

  it('bounds what a socket queues while its token is checked', async () => {
    const auth = heldAuthenticator();
    const { h } = await hub({ authenticator: auth, limits: { preWelcomeBytes: 8 * 1024 } });
    const a = await raw(h, 'web-1');
    await until(() => auth.waiting === 1);
    // Each message alone is under the hello limit; together they pass the pre-welcome budget.
    for (let i = 0; i < 4; i++) a.send({ type: 'catalogue', entries: bigCatalogue(3000) });
    expect((await a.closed).code).toBe(1009);
    auth.release();
  });

  it('caps pending sockets: the next upgrade is refused with 503 before any WebSocket exists', async () => {
    const auth = heldAuthenticator();
    const { h } = await hub({ authenticator: auth, limits: { maxPending: 3 } });
    for (const n of ['a', 'b', 'c']) await raw(h, n);
    await until(() => h.hub.counters().pending === 3);
    await expect(raw(h, 'd')).rejects.toThrow(/upgrade refused: 503/);
    expect(h.hub.counters().errorsByCode.SONDE_TOO_MANY_CONNECTIONS).toBe(1);
    // Once the pending ones are through, there is room again.
    auth.release();
    await until(() => h.hub.size === 3);
    const e = await raw(h, 'e');
    await until(() => auth.waiting === 1);
    auth.release();
    await e.waitFor((m) => m.type === 'welcome');
  });

  it('checks the bearer token at the upgrade where it can (a shared token): a wrong one gets 401 and no socket', async () => {
    const { h } = await hub({ authenticator: sharedTokenAuthenticator('the-right-token') });
    await expect(raw(h, 'web-1', { token: 'wrong-token' })).rejects.toThrow(/upgrade refused: 401/);
    await expect(raw(h, 'web-2', { token: undefined })).rejects.toThrow(/upgrade refused: 401/);
    expect(h.hub.counters()).toMatchObject({ pending: 0, errorsByCode: { SONDE_UNAUTHENTICATED: 2 } });
    const ok = await raw(h, 'web-3', { token: 'the-right-token' });
    await ok.waitFor((m) => m.type === 'welcome');
  });
});

describe('refusals at the upgrade are logged, not flooded', () => {
  it('50 wrong tokens in a row: 50 counted, one log line', async () => {
    const lines: { msg?: string; refused?: number }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l));
        done();
      },
    });
    const hubWithLog = new AgentHub({ authenticator: sharedTokenAuthenticator('the-right-token'), log: pino({ level: 'info' }, sink) });
    const server = createServer();
    hubWithLog.attach(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/v1/agents`;
    try {
      for (let i = 0; i < 50; i++) await expect(FakeAgent.open({ url, token: 'wrong', pod: pod(`p${i}`) })).rejects.toThrow(/401/);
      expect(hubWithLog.counters().errorsByCode.SONDE_UNAUTHENTICATED).toBe(50);
      expect(lines.filter((l) => l.msg?.includes('refused agent upgrades'))).toHaveLength(1);
    } finally {
      await hubWithLog.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('the token at the upgrade, in a cluster', () => {
  it('an agent with no token is refused with 401 before a socket exists; TokenReview is never asked', async () => {
    const fake = await FakeKubeApiServer.start();
    try {
      const auth = new TokenReviewAuthenticator({ kubeConfig: fakeKubeConfig(fake), log: silentLog });
      const { h } = await hub({ authenticator: auth });
      await expect(raw(h, 'web-1', { token: undefined })).rejects.toThrow(/upgrade refused: 401/);
      await expect(raw(h, 'web-2', { token: 'x'.repeat(9000) })).rejects.toThrow(/upgrade refused: 401/);
      expect(auth.reviews).toBe(0);
      expect(h.hub.counters().pending).toBe(0);
    } finally {
      await fake.stop();
    }
  });
});

describe('hub limits after welcome', () => {
  it('closes with 4029 an agent past its messages per second; one that keeps the rate stays', async () => {
    const clock = new ManualClock();
    const { h, listener } = await hub({ clock, limits: { messagesPerSecond: 10, messageBurst: 20 } });
    const fast = await connect(h, 'fast');
    const steady = await connect(h, 'steady');
    for (let i = 0; i < 20; i++) steady.send({ type: 'catalogue', entries: [] });
    await until(() => listener.reports('catalogue').length === 20);
    for (let second = 0; second < 3; second++) {
      clock.advance(1000);
      for (let i = 0; i < 10; i++) steady.send({ type: 'catalogue', entries: [] });
      await until(() => listener.reports('catalogue').length === 30 + 10 * second);
    }
    expect(steady.isOpen).toBe(true);
    for (let i = 0; i < 21; i++) fast.send({ type: 'catalogue', entries: [] });
    const closed = await fast.closed;
    expect(closed).toMatchObject({ code: 4029, reason: expect.stringMatching(/messages\/s/) });
    expect(h.hub.counters().errorsByCode.SONDE_RATE_LIMITED).toBe(1);
    expect(steady.isOpen).toBe(true);
  });

  it('closes with 4029 an agent past its bytes per second', async () => {
    const clock = new ManualClock();
    const { h, listener } = await hub({ clock, limits: { bytesPerSecond: 10_000, byteBurst: 20_000 } });
    const a = await connect(h, 'web-1');
    const message = { type: 'catalogue', entries: bigCatalogue(6000) };
    const size = JSON.stringify(message).length;
    expect(size).toBeGreaterThan(6000);
    for (let i = 0; i < Math.floor(20_000 / size); i++) a.send(message);
    await until(() => listener.reports('catalogue').length === Math.floor(20_000 / size));
    a.send(message);
    expect(await a.closed).toMatchObject({ code: 4029, reason: expect.stringMatching(/bytes\/s/) });
  });

  it('closes with 4030 an agent that reports more requests for a session than N plus the margin, keeping those within it', async () => {
    const { h, listener } = await hub();
    const a = await connect(h, 'web-1');
    await until(() => listener.events.length === 1);
    h.hub.start(listener.events[0]!.agent, { type: 'start', session: 's1', request: 'GET /a', maxRequests: 5, deadline: Date.now() + 60_000, sampleIntervalMs: 10 });
    const budget = requestBudget(5);
    const batch = (n: number): ReturnType<typeof fakeRequest>[] => Array.from({ length: n }, () => fakeRequest('GET /a'));
    a.report('s1', batch(budget - 4));
    a.report('s1', batch(4));
    await until(() => listener.reports('requests').length === 2);
    expect(a.isOpen).toBe(true);
    a.report('s1', batch(1));
    expect(await a.closed).toMatchObject({ code: 4030 });
    expect(listener.reports('requests')).toHaveLength(2);
    expect(h.hub.counters().errorsByCode.SONDE_TOO_MANY_REQUESTS).toBe(1);
  });

  it('holds a claimed session (no start on this connection) to the largest N a spec allows', () => {
    expect(requestBudget(10_000)).toBeGreaterThan(10_000);
    expect(DEFAULT_CONNECTION_LIMITS.byteBurst).toBeGreaterThanOrEqual(PROTOCOL_LIMITS.maxMessageBytes);
  });
});

describe('token bucket', () => {
  it('refills at its rate up to its burst, on the injected time', () => {
    const b = new TokenBucket(10, 5, 0);
    for (let i = 0; i < 5; i++) expect(b.take(1, 0)).toBe(true);
    expect(b.take(1, 0)).toBe(false);
    expect(b.take(1, 99)).toBe(false);
    expect(b.take(1, 100)).toBe(true);
    expect(b.take(5, 10_000)).toBe(true);
    expect(b.take(1, 10_000)).toBe(false);
    expect(b.take(6, 20_000)).toBe(false); // never more than the burst
  });
});
