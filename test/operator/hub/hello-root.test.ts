import { describe, expect, it } from 'vitest';
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
