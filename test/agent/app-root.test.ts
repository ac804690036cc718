import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { findAppRoot } from '../../agent/app-root.js';
import { ConfigError, readAgentConfig } from '../../agent/config.js';
import { type Agent, startAgent } from '../../agent/index.js';
import { PROTOCOL_LIMITS } from '../../src/protocol/messages.js';
import { validateAgentMessage } from '../../src/protocol/validate-agent-message.js';
import { FakeOperator } from './helpers/fake-operator.js';
import { until } from './helpers/load.js';

/** The root the Node agent reports in hello (`agent.root`, Sonde 0.4), on real directories. */
const base = realpathSync(mkdtempSync(join(tmpdir(), 'sonde-app-root-')));
afterAll(() => rmSync(base, { recursive: true, force: true }));

function file(path: string, text = ''): string {
  const full = join(base, path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, text);
  return full;
}

describe('findAppRoot', () => {
  it('is the directory of the nearest package.json above the main module', () => {
    file('shop/package.json', '{}');
    const main = file('shop/src/api/server.js');
    expect(findAppRoot(main, '/elsewhere')).toBe(join(base, 'shop'));
    // A nested package.json (a workspace package) is nearer: it wins.
    file('mono/package.json', '{}');
    file('mono/packages/api/package.json', '{}');
    expect(findAppRoot(file('mono/packages/api/lib/main.js'), '/elsewhere')).toBe(join(base, 'mono/packages/api'));
  });

  it('resolves a relative main module against the working directory, and symlinks to the real file', () => {
    file('real/package.json', '{}');
    const main = file('real/bin/app.js');
    mkdirSync(join(base, 'links'), { recursive: true });
    symlinkSync(main, join(base, 'links/app.js'));
    // V8 names the frames by the real path: the root must prefix those names.
    expect(findAppRoot(join(base, 'links/app.js'), '/elsewhere')).toBe(join(base, 'real'));
    expect(findAppRoot('bin/app.js', join(base, 'real'))).toBe(join(base, 'real'));
  });

  it('skips a launcher inside node_modules: the app around it is the root', () => {
    file('web/package.json', '{}');
    file('web/node_modules/next/package.json', '{}');
    const launcher = file('web/node_modules/next/dist/bin/next');
    expect(findAppRoot(launcher, '/elsewhere')).toBe(join(base, 'web'));
  });

  it('falls back to the working directory: no main module, a missing one, no package.json above it', () => {
    const cwd = join(base, 'cwd');
    expect(findAppRoot(undefined, cwd)).toBe(cwd);
    expect(findAppRoot(join(base, 'gone/app.js'), cwd)).toBe(cwd);
    // tmpdir() has no package.json above it on these machines; a probe makes the tree explicit anyway.
    expect(findAppRoot('/x/y/app.js', cwd, { exists: () => false, realpath: (p) => p })).toBe(cwd);
    expect(findAppRoot('/x/y/app.js', cwd, { exists: () => { throw new Error('EACCES'); }, realpath: (p) => p })).toBe(cwd);
  });
});

describe('SONDE_APP_ROOT', () => {
  it('overrides the search with an absolute path, a trailing separator dropped', () => {
    expect(readAgentConfig({ SONDE_APP_ROOT: '/srv/shop/' }).appRoot).toBe('/srv/shop');
    expect(readAgentConfig({ SONDE_APP_ROOT: '  ' }).appRoot).toBeUndefined();
    expect(readAgentConfig({}).appRoot).toBeUndefined();
  });

  it('refuses what the operator would refuse, naming the variable', () => {
    for (const bad of ['srv/shop', './app', `/${'a'.repeat(PROTOCOL_LIMITS.maxStringLength)}`, '/app\u0000x']) {
      expect(() => readAgentConfig({ SONDE_APP_ROOT: bad })).toThrow(ConfigError);
      expect(() => readAgentConfig({ SONDE_APP_ROOT: bad })).toThrow(/SONDE_APP_ROOT/);
    }
  });
});

describe('hello.agent.root on a real link', () => {
  let agent: Agent | undefined;
  let op: FakeOperator | undefined;
  afterEach(async () => {
    await agent?.close();
    agent = undefined;
    await op?.stop().catch(() => {});
    op = undefined;
  });

  const hello = async (appRoot?: string): Promise<Record<string, unknown>> => {
    op = new FakeOperator();
    await op.start();
    agent = startAgent({ url: op.url, pod: { name: 'web-1', namespace: 'shop', uid: '' }, logLevel: 'silent', ...(appRoot ? { appRoot } : {}), link: { backoff: { baseMs: 50, capMs: 200 } } });
    await until(() => op!.last?.messages.length === 1, 5000, 'hello');
    const m = op.last!.messages[0]!;
    // What the agent sends is what the operator's validator accepts, root included.
    const checked = validateAgentMessage(m);
    if (checked.type !== 'hello') throw new Error('not a hello');
    expect(checked.agent.root).toBe((m as { agent: { root?: string } }).agent.root);
    return checked.agent as unknown as Record<string, unknown>;
  };

  it('carries SONDE_APP_ROOT (AgentOptions.appRoot) as given', async () => {
    expect((await hello('/srv/shop')).root).toBe('/srv/shop');
  });

  it('without one, carries the root found from the main module: this repository for the test runner', async () => {
    // vitest's entry lives in this repository's node_modules: the search climbs out of it to package.json here.
    const repo = realpathSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..'));
    expect((await hello()).root).toBe(repo);
  });
});
