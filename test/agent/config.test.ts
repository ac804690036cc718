import { describe, expect, it } from 'vitest';
import { ConfigError, parseLabels, readAgentConfig } from '../../agent/config.js';

describe('agent configuration from the environment', () => {
  it('reads every variable once into a checked config', () => {
    const c = readAgentConfig({
      SONDE_URL: 'ws://127.0.0.1:7070/v1/agents',
      SONDE_TOKEN: 't',
      SONDE_TOKEN_FILE: '/var/run/secrets/sonde/token',
      POD_NAME: 'web-7f9',
      POD_NAMESPACE: 'shop',
      POD_UID: 'uid-1',
      SONDE_LABELS: 'app=web, tier=front',
      SONDE_LOG_LEVEL: 'INFO',
    });
    expect(c).toEqual({
      url: 'ws://127.0.0.1:7070/v1/agents',
      token: 't',
      tokenFile: '/var/run/secrets/sonde/token',
      pod: { name: 'web-7f9', namespace: 'shop', uid: 'uid-1' },
      labels: { app: 'web', tier: 'front' },
      logLevel: 'info',
    });
  });

  it('defaults to a quiet, local-only agent named after the host', () => {
    const c = readAgentConfig({});
    expect(c.url).toBeUndefined();
    expect(c.logLevel).toBe('warn');
    expect(c.pod.namespace).toBe('default');
    expect(c.pod.name.length).toBeGreaterThan(0);
    expect(c.labels).toEqual({});
    expect(c.v8BugWorkaround).toBeUndefined();
  });

  it('turns the V8-bug workaround on or off', () => {
    expect(readAgentConfig({ SONDE_V8_BUG_WORKAROUND: '1' }).v8BugWorkaround).toBe(true);
    expect(readAgentConfig({ SONDE_V8_BUG_WORKAROUND: 'TRUE' }).v8BugWorkaround).toBe(true);
    expect(readAgentConfig({ SONDE_V8_BUG_WORKAROUND: '0' }).v8BugWorkaround).toBe(false);
  });

  it('chooses the sampler', () => {
    expect(readAgentConfig({}).sampler).toBeUndefined();
    expect(readAgentConfig({ SONDE_SAMPLER: 'V8' }).sampler).toBe('v8');
    expect(readAgentConfig({ SONDE_SAMPLER: ' interrupt ' }).sampler).toBe('interrupt');
    expect(readAgentConfig({ SONDE_SAMPLER: 'auto' }).sampler).toBe('auto');
  });

  it('names the variable that is wrong', () => {
    expect(() => readAgentConfig({ SONDE_URL: 'http://x' })).toThrow(ConfigError);
    expect(() => readAgentConfig({ SONDE_URL: 'http://x' })).toThrow(/SONDE_URL must be a ws:\/\/ or wss:\/\/ URL/);
    expect(() => readAgentConfig({ SONDE_LOG_LEVEL: 'loud' })).toThrow(/SONDE_LOG_LEVEL must be one of/);
    expect(() => readAgentConfig({ SONDE_V8_BUG_WORKAROUND: 'yes' })).toThrow(/SONDE_V8_BUG_WORKAROUND must be 1, true, 0 or false/);
    expect(() => readAgentConfig({ SONDE_SAMPLER: 'inspector' })).toThrow(/SONDE_SAMPLER must be auto, interrupt or v8, got "inspector"/);
    expect(() => parseLabels('app')).toThrow(/"app" is not key=value/);
    expect(() => parseLabels('-bad=x')).toThrow(/not a valid label key/);
    // A DNS prefix over 253 characters is no label key, though each of its parts is well formed.
    const prefix = (n: number): string => `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(n - 192)}`;
    expect(() => parseLabels(`${prefix(254)}/app=x`)).toThrow(/not a valid label key/);
    expect(parseLabels(`${prefix(253)}/app=x`)).toEqual({ [`${prefix(253)}/app`]: 'x' });
    // The message states the rule, as the operator's and the Python agent's do, and quotes a long key by its start.
    expect(() => parseLabels('-bad=x')).toThrow(/not a valid label key: an optional DNS subdomain prefix of at most 253 characters/);
    const long = `${'k'.repeat(10_000)}!=x`;
    let message = '';
    try {
      parseLabels(long);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain(`"${'k'.repeat(80)}… (10001 characters)"`);
    expect(message.length).toBeLessThan(500);
    expect(() => parseLabels('app=has space')).toThrow(/not a valid label value/);
    expect(parseLabels('a=1,,b=')).toEqual({ a: '1', b: '' });
  });
});
