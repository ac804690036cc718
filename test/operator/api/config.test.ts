import { describe, expect, it } from 'vitest';
import { ConfigError, defaultConfig, mergeConfig, parseOperatorFlags, readEnv, validateConfig } from '../../../operator/config.js';

const base = defaultConfig('/opt/sonde/ui', '/work');

function load(argv: string[], env: NodeJS.ProcessEnv = {}) {
  return validateConfig(mergeConfig('/work', base, readEnv(env), parseOperatorFlags(argv)));
}

describe('operator configuration', () => {
  it('defaults to cluster mode on 127.0.0.1:7070 with data in ./.sonde-data', () => {
    const c = load([]);
    expect(c).toMatchObject({ mode: 'cluster', host: '127.0.0.1', port: 7070, dataDir: '/work/.sonde-data', uiDir: '/opt/sonde/ui', logLevel: 'info' });
  });

  it('layers environment under flags and resolves paths against the working directory', () => {
    const c = load(['--standalone', '--port', '9000', '--sessions', 'sessions/'], { SONDE_PORT: '8000', SONDE_DATA: 'data', SONDE_HOST: '127.0.0.2', SONDE_TOKEN: 'abcdefgh1' });
    expect(c).toMatchObject({ mode: 'standalone', port: 9000, host: '127.0.0.2', dataDir: '/work/data', sessionsPath: '/work/sessions', token: 'abcdefgh1' });
  });

  it('is pure: merging does not change its inputs', () => {
    const env = readEnv({ SONDE_PORT: '8000' });
    const copy = structuredClone(base);
    mergeConfig('/x', base, env, { port: 1 });
    expect(base).toEqual(copy);
    expect(env).toEqual({ port: 8000 });
  });

  it('refuses unknown flags, bad ports and missing values with a clear message', () => {
    expect(() => parseOperatorFlags(['--prot', '1'])).toThrow(/Unknown option '--prot'.*sonde --help/);
    expect(() => parseOperatorFlags(['--port', 'eighty'])).toThrow(/--port must be a port number.*"eighty"/);
    expect(() => parseOperatorFlags(['--port'])).toThrow(ConfigError);
    expect(() => readEnv({ SONDE_PORT: '-1' })).toThrow(/SONDE_PORT must be a port number/);
    expect(() => load(['--port', '70000'])).toThrow('--port must be a port number from 0 to 65535, got "70000"');
  });

  it('lists every problem at once', () => {
    try {
      load(['--sessions', 'x', '--log-level', 'loud'], { SONDE_NAMESPACE: 'Bad_NS' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems;
      expect(problems).toHaveLength(3);
      expect(problems.join('\n')).toMatch(/--sessions is for standalone mode/);
      expect(problems.join('\n')).toMatch(/log level must be one of/);
      expect(problems.join('\n')).toMatch(/"Bad_NS" is not a valid Kubernetes namespace/);
    }
  });

  it('allows a standalone operator without a token only on loopback', () => {
    expect(load(['--standalone', '--host', '127.0.0.1']).token).toBeUndefined();
    expect(load(['--standalone', '--host', '::1']).host).toBe('::1');
    expect(() => load(['--standalone', '--host', '0.0.0.0'])).toThrow(/needs SONDE_TOKEN/);
    expect(load(['--standalone', '--host', '0.0.0.0'], { SONDE_TOKEN: 'long-enough' }).host).toBe('0.0.0.0');
    expect(() => load(['--standalone'], { SONDE_TOKEN: 'short' })).toThrow(/at least 8 characters/);
  });
});
