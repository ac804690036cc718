import { afterEach, describe, expect, it } from 'vitest';
import { PROTOCOL_LIMITS, PROTOCOL_VERSION } from '../../../src/protocol/messages.js';
import { ManualClock } from '../../../operator/clock.js';
import { FAKE_AGENT_PROTOCOL, FakeAgent, fakeRequest } from '../../harness/fake-agent.js';
import { type HubServer, RecordingListener, pod, startHub, tokenFor, until } from './hub-server.js';

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

afterEach(async () => {
  for (const a of agents.splice(0)) a.kill();
  for (const h of open.splice(0)) await h.close();
});

describe('agent hub', () => {
  it('speaks the protocol version of src/ (the fake agent hard-codes it)', () => {
    expect(FAKE_AGENT_PROTOCOL).toBe(PROTOCOL_VERSION);
  });

  it('welcomes an authenticated agent and binds the connection to its pod', async () => {
    const { h, listener } = await hub();
    const a = await connect(h, 'web-1', { catalogue: [{ type: 'GET /a', count: 3, errors: 0, p50Ms: 1, p90Ms: 2, p99Ms: 3 }] });
    expect(a.welcome).toMatchObject({ type: 'welcome', protocol: PROTOCOL_VERSION, heartbeatMs: 15_000 });
    await until(() => listener.events.some((e) => e.kind === 'connected'));
    const infos = h.hub.agents();
    expect(infos).toHaveLength(1);
    expect(infos[0]).toMatchObject({ id: a.welcome!.agentId, pod: pod('web-1'), labels: { app: 'shop' }, runtime: 'node', sessions: [] });
    expect(infos[0]!.catalogue[0]!.type).toBe('GET /a');
    expect([...h.hub.agentsIn('shop')].map((c) => c.pod.name)).toEqual(['web-1']);
    expect([...h.hub.agentsIn('other')]).toEqual([]);
    expect(h.hub.counters()).toMatchObject({ connected: 1, messagesByType: { hello: 1 } });
  });

  it('refuses a bad token (4003) and a forged pod identity (4004)', async () => {
    const { h, listener } = await hub();
    const wrong = await raw(h, 'web-1', { token: 'nonsense' });
    expect(await wrong.closed).toMatchObject({ code: 4003 });
    const forged = await raw(h, 'web-2', { token: tokenFor(pod('web-9')) });
    const closed = await forged.closed;
    expect(closed.code).toBe(4004);
    expect(closed.reason).toMatch(/web-9/);
    expect(listener.events).toEqual([]);
    expect(h.hub.agents()).toEqual([]);
    expect(h.hub.counters().errorsByCode).toMatchObject({ SONDE_UNAUTHENTICATED: 1, SONDE_FORGED_IDENTITY: 1 });
  });

  it('requires hello first, and within the hello timeout (injected clock)', async () => {
    const clock = new ManualClock();
    const { h } = await hub({ clock, helloTimeoutMs: 1000 });
    const early = await raw(h, 'web-1', { hello: false });
    early.send({ type: 'progress', session: 's', requests: 0, samples: 0, inFlight: 0 });
    expect(await early.closed).toMatchObject({ code: 4005 });

    const silent = await raw(h, 'web-2', { hello: false });
    await until(() => h.hub.counters().pending === 1);
    clock.advance(400);
    expect(silent.isOpen).toBe(true);
    clock.advance(1000);
    expect(await silent.closed).toMatchObject({ code: 4005, reason: expect.stringMatching(/no hello within 1000ms/) });
  });

  it('closes only the connection that sends malformed JSON, an unknown type, a bad version or a binary frame', async () => {
    const { h, listener } = await hub();
    const good = await connect(h, 'good');
    const cases: [string, (a: FakeAgent) => void, number, RegExp][] = [
      ['json', (a) => a.sendRaw('{"type": "progress", '), 4001, /not JSON/],
      ['type', (a) => a.send({ type: 'launch-missiles' }), 4001, /unknown message type/],
      ['field', (a) => a.send({ type: 'progress', session: 's', requests: -1, samples: 0, inFlight: 0 }), 4001, /requests must be a whole number/],
      ['binary', (a) => a.sendRaw(Buffer.from('{}'), true), 4001, /binary/],
    ];
    for (const [name, act, code, reason] of cases) {
      const bad = await connect(h, `bad-${name}`);
      act(bad);
      const closed = await bad.closed;
      expect(closed.code, name).toBe(code);
      expect(closed.reason, name).toMatch(reason);
    }
    const old = await raw(h, 'old', { protocol: 99 });
    expect(await old.closed).toMatchObject({ code: 4002, reason: expect.stringMatching(/protocol 99/) });

    // The good agent is untouched and still heard.
    expect(good.isOpen).toBe(true);
    good.send({ type: 'catalogue', entries: [] });
    await until(() => listener.reports('catalogue').length === 1);
    expect(h.hub.agents().map((a) => a.pod.name)).toEqual(['good']);
  });

  it('closes with 1009 a message over maxMessageBytes', async () => {
    const { h } = await hub();
    const good = await connect(h, 'good');
    const big = await connect(h, 'big');
    big.sendRaw('x'.repeat(PROTOCOL_LIMITS.maxMessageBytes + 1));
    expect((await big.closed).code).toBe(1009);
    await until(() => h.hub.counters().errorsByCode.SONDE_TREE_TOO_LARGE === 1);
    expect(good.isOpen).toBe(true);
  });

  it('refuses a request tree that breaks the model invariants', async () => {
    const { h, listener } = await hub();
    const a = await connect(h, 'web-1');
    await until(() => listener.events.length === 1);
    h.hub.start(listener.events[0]!.agent, { type: 'start', session: 's1', request: 'GET /a', maxRequests: 5, deadline: Date.now() + 60_000, sampleIntervalMs: 10 });
    const r = fakeRequest('GET /a');
    r.tree.nodes[0] = 7; // a parent after its child
    a.report('s1', [r]);
    const closed = await a.closed;
    expect(closed.code).toBe(4001);
    expect(closed.reason).toMatch(/requests\[0\]\.tree/);
    expect(listener.reports('requests')).toEqual([]);
  });

  it('closes with 4007 reports on a session the agent was not asked to run, keeping what came before', async () => {
    const { h, listener } = await hub();
    const a = await connect(h, 'web-1');
    await until(() => listener.events.length === 1);
    const conn = listener.events[0]!.agent;
    h.hub.start(conn, { type: 'start', session: 's1', request: 'GET /a', maxRequests: 5, deadline: Date.now() + 60_000, sampleIntervalMs: 10 });
    await a.waitFor((m) => m.type === 'start');
    a.report('s1', [fakeRequest('GET /a')]);
    a.report('s2', [fakeRequest('GET /a')]);
    const closed = await a.closed;
    expect(closed.code).toBe(4007);
    expect(listener.reports('requests')).toHaveLength(1);
    expect(h.hub.agents()[0]?.sessions ?? []).toEqual([]);
    expect(listener.events.at(-1)!.kind).toBe('disconnected');
  });

  it('takes reports on claimed sessions only as the engine decides: granted taken, refused dropped, a bare claim is out of order', async () => {
    // The listener plays the engine: it grants s9 and refuses s8 when the agent connects.
    const { h, listener } = await hub();
    const decide = listener.connected.bind(listener);
    listener.connected = (agent) => {
      decide(agent);
      h.hub.grant(agent, 's9');
      h.hub.refuse(agent, 's8');
    };
    const a = await connect(h, 'web-1', { sessions: [{ session: 's9', requests: 2 }, { session: 's8', requests: 0 }, { session: 's7', requests: 0 }] });
    expect(listener.events[0]!.agent.claimed).toEqual(['s9', 's8', 's7']);
    a.report('s9', [fakeRequest('GET /a')]);
    await until(() => listener.reports('requests').length === 1);
    a.report('s8', [fakeRequest('GET /a')]);
    a.report('s9', [fakeRequest('GET /a')]);
    await until(() => listener.reports('requests').length === 2);
    expect(listener.reports('requests').every((m) => m.type === 'requests' && m.session === 's9')).toBe(true);
    expect(a.isOpen).toBe(true);
    // A claim nobody granted gives no right to report: before, the hub took any claim on the agent's say-so.
    a.report('s7', [fakeRequest('GET /a')]);
    expect((await a.closed).code).toBe(4007);
    expect(listener.reports('requests')).toHaveLength(2);
  });

  it('terminates a connection that misses a pong; one that answers stays', async () => {
    const clock = new ManualClock();
    const { h, listener } = await hub({ clock, heartbeatMs: 1000, helloTimeoutMs: 1000 });
    const alive = await connect(h, 'alive');
    const hung = await connect(h, 'hung', { autoPong: false });
    let pings = 0;
    alive.ws.on('ping', () => pings++);
    for (let round = 1; round <= 3 && hung.isOpen; round++) {
      clock.advance(1000);
      await until(() => pings >= round, 5000, 'ping');
      await new Promise((r) => setTimeout(r, 150)); // the pong crosses loopback
    }
    await hung.closed;
    expect(alive.isOpen).toBe(true);
    expect(h.hub.agents().map((a) => a.pod.name)).toEqual(['alive']);
    expect(h.hub.counters().errorsByCode.SONDE_HEARTBEAT_MISSED).toBe(1);
    expect(listener.events.filter((e) => e.kind === 'disconnected').map((e) => e.agent.pod.name)).toEqual(['hung']);
  });

  it('replaces an older connection of the same pod with the newer one (4008)', async () => {
    const { h, listener } = await hub();
    const first = await connect(h, 'web-1');
    const second = await connect(h, 'web-1');
    expect(await first.closed).toMatchObject({ code: 4008 });
    expect(second.isOpen).toBe(true);
    const kinds = listener.events.map((e) => `${e.kind}:${e.agent.id}`);
    expect(kinds).toEqual([`connected:${first.welcome!.agentId}`, `disconnected:${first.welcome!.agentId}`, `connected:${second.welcome!.agentId}`]);
    expect(h.hub.agents().map((a) => a.id)).toEqual([second.welcome!.agentId]);
  });

  it('keeps one connection per agent process of a pod: a same-pid reconnect replaces, another pod is refused, at most maxProcessesPerPod', async () => {
    const { h, listener } = await hub({ limits: { maxProcessesPerPod: 3 } });
    // Two pre-fork workers of one pod: both stay connected, each with its own connection.
    const w1 = await connect(h, 'web-1', { pid: 11, instance: 'a' });
    const w2 = await connect(h, 'web-1', { pid: 12, instance: 'b' });
    expect(w1.welcome).toMatchObject({ processesPerPod: 3 });
    expect(w1.isOpen && w2.isOpen).toBe(true);
    expect(h.hub.agents().map((a) => a.id).sort()).toEqual([w1.welcome!.agentId, w2.welcome!.agentId].sort());
    expect(h.hub.agentFor(pod('web-1'), 12)?.id).toBe(w2.welcome!.agentId);
    expect([...h.hub.agentsIn('shop')]).toHaveLength(2);
    expect(h.hub.agentsOf(pod('web-1'))).toHaveLength(2);
    // A restarted worker that reuses pid 11 (another instance) replaces its predecessor, not its sibling.
    const w1b = await connect(h, 'web-1', { pid: 11, instance: 'c' });
    expect(await w1.closed).toMatchObject({ code: 4008 });
    expect(w2.isOpen && w1b.isOpen).toBe(true);
    expect(h.hub.agentFor(pod('web-1'), 11)?.agent.instance).toBe('c');
    // A process claiming another pod than its token's is refused (4004), whatever its pid.
    const forged = await raw(h, 'web-1', { pid: 13, token: tokenFor(pod('web-3')) });
    expect(await forged.closed).toMatchObject({ code: 4004 });
    // A third process of web-1 fits; a fourth does not (1013), and the pod's others are untouched.
    const w3 = await connect(h, 'web-1', { pid: 13 });
    const w4 = await raw(h, 'web-1', { pid: 14 });
    expect(await w4.closed).toMatchObject({ code: 1013 });
    expect(w2.isOpen && w1b.isOpen && w3.isOpen).toBe(true);
    // Another pod has its own allowance.
    const other = await connect(h, 'web-2', { pid: 11 });
    expect(other.isOpen).toBe(true);
    expect(h.hub.size).toBe(4);
    // Each process's disconnect is its own.
    w2.kill();
    await until(() => listener.events.some((e) => e.kind === 'disconnected' && e.agent.id === w2.welcome!.agentId));
    expect(h.hub.agentsOf(pod('web-1')).map((a) => a.agent.pid).sort()).toEqual([11, 13]);
    expect(h.hub.size).toBe(3);
  });

  it('counts messages and bytes for /metrics', async () => {
    const { h, listener } = await hub();
    const a = await connect(h, 'web-1');
    await until(() => listener.events.length === 1);
    h.hub.start(listener.events[0]!.agent, { type: 'start', session: 's1', request: 'GET /a', maxRequests: 5, deadline: Date.now() + 60_000, sampleIntervalMs: 10 });
    a.report('s1', [fakeRequest('GET /a'), fakeRequest('GET /a')]);
    a.progress('s1', 2, 20);
    await until(() => listener.reports().length === 2);
    const c = h.hub.counters();
    expect(c.messagesByType).toMatchObject({ hello: 1, requests: 1, progress: 1 });
    expect(c.requestsProfiled).toBe(2);
    expect(c.bytesReceived).toBeGreaterThan(200);
    expect(h.hub.agents()[0]!.sessions).toEqual(['s1']);
  });

  it('refuses upgrades on other paths and closes agents with 1001 on shutdown', async () => {
    const { h } = await hub();
    await expect(FakeAgent.open({ url: h.url.replace('/v1/agents', '/nope'), pod: pod('x') })).rejects.toThrow(/404/);
    const a = await connect(h, 'web-1');
    await h.close();
    open.splice(open.indexOf(h), 1);
    expect((await a.closed).code).toBe(1001);
  });
});
