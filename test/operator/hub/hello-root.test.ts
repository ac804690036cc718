import { afterEach, describe, expect, it } from 'vitest';
import { FAKE_AGENT_PROTOCOL, FakeAgent } from '../../harness/fake-agent.js';
import { type HubServer, RecordingListener, pod, startHub, tokenFor, until } from './hub-server.js';
import { SondeError } from '../../../src/errors.js';
import { PROTOCOL_LIMITS } from '../../../src/protocol/messages.js';
import { parseAgentMessage, validateAgentMessage } from '../../../src/protocol/validate-agent-message.js';

/** `hello.agent.root` (Sonde 0.4): the application root an agent reports, checked before anything keeps it. */
const hello = (root: unknown): Record<string, unknown> => ({
  type: 'hello',
  protocol: 1,
  pod: { name: 'web-1', namespace: 'shop', uid: 'u1' },
  labels: {},
  agent: { runtime: 'node', runtimeVersion: 'v20.0.0', agentVersion: '0.1.0', pid: 42, ...(root === undefined ? {} : { root }) },
  catalogue: [],
  sessions: [],
});

function rootOf(root: unknown): string | undefined {
  const m = validateAgentMessage(hello(root));
  if (m.type !== 'hello') throw new Error('not a hello');
  return m.agent.root;
}

function refusal(root: unknown): SondeError {
  try {
    validateAgentMessage(hello(root));
  } catch (err) {
    expect(err).toBeInstanceOf(SondeError);
    return err as SondeError;
  }
  throw new Error(`accepted root ${JSON.stringify(root)}`);
}

describe('hello.agent.root', () => {
  it('is optional, and kept when it is an absolute directory (a trailing separator dropped)', () => {
    expect(rootOf(undefined)).toBeUndefined();
    expect(rootOf('/srv/shop')).toBe('/srv/shop');
    expect(rootOf('/srv/shop/')).toBe('/srv/shop');
    expect(rootOf('/')).toBe('/');
    expect(rootOf('C:\\apps\\shop')).toBe('C:\\apps\\shop');
    expect(rootOf(`/${'a'.repeat(PROTOCOL_LIMITS.maxStringLength - 1)}`)).toHaveLength(PROTOCOL_LIMITS.maxStringLength);
  });

  it('refuses relative paths, NUL, over-long and non-string roots with a message naming the field', () => {
    for (const bad of ['', 'srv/shop', './app', '~/app', '..', 'file:///app', '/app\u0000/x', `/${'a'.repeat(PROTOCOL_LIMITS.maxStringLength)}`, 42, null, ['/app'], { path: '/app' }]) {
      const err = refusal(bad);
      expect(err.code).toBe('SONDE_BAD_MESSAGE');
      expect(err.message).toMatch(/agent\.root/);
    }
  });

  it('a NUL that arrives JSON-escaped on the wire is refused too', () => {
    const text = JSON.stringify(hello('/app\u0000evil'));
    expect(text).toContain('\\u0000');
    expect(() => parseAgentMessage(text)).toThrow(/agent\.root must not contain NUL/);
  });
});

describe('hello.agent.root through the hub, on a real socket', () => {
  const open: HubServer[] = [];
  const agents: FakeAgent[] = [];
  afterEach(async () => {
    for (const a of agents.splice(0)) a.kill();
    for (const h of open.splice(0)) await h.close();
  });

  const say = async (h: HubServer, name: string, root: unknown): Promise<FakeAgent> => {
    const p = pod(name);
    const a = await FakeAgent.open({ url: h.url, token: tokenFor(p), pod: p, hello: false });
    agents.push(a);
    a.send({ ...hello(root), protocol: FAKE_AGENT_PROTOCOL, pod: p });
    return a;
  };

  it('keeps a good root on the connection and closes on a bad one (4001, naming the field), the others untouched', async () => {
    const listener = new RecordingListener();
    const h = await startHub({ listener });
    open.push(h);
    const good = await say(h, 'web-1', '/srv/shop/');
    await good.waitFor((m) => m.type === 'welcome');
    const bad = await say(h, 'web-2', 'srv/shop');
    const closed = await bad.closed;
    expect(closed.code).toBe(4001);
    expect(closed.reason).toMatch(/agent\.root must be an absolute path/);
    await until(() => listener.events.some((e) => e.kind === 'connected'));
    const connected = [...h.hub.agentsIn('shop')];
    expect(connected.map((c) => [c.pod.name, c.agent.root])).toEqual([['web-1', '/srv/shop']]);
    // The agents list says which root each agent reported.
    expect(h.hub.agents().map((i) => i.root)).toEqual(['/srv/shop']);
  });
});
