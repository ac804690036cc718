import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentBundleError, copyAgentBundle } from '../../operator/agent-bundle/copy-agent-bundle.js';
import { CLI, missingBuild, ROOT } from './processes.js';

const BUNDLE = join(ROOT, 'dist/agent-bundle/node');
const missing = missingBuild() ?? (existsSync(join(BUNDLE, 'sonde-bundle.json')) ? undefined : `${BUNDLE} is missing: run \`npm run build\` first`);
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH }, timeout: 20_000 });
const dirs: string[] = [];
function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'sonde-bundle-cli-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Every file under dir, relative. */
function walk(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name), base) : [join(dir, e.name).slice(base.length + 1)]));
}

/** Whether this machine lets a test make a mount namespace with a read-only root and run as another user. */
function canIsolate(): boolean {
  if (process.getuid?.() !== 0) return false;
  return spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount -o bind,remount,ro / && setpriv --reuid=65532 --regid=65532 --clear-groups true'], { timeout: 10_000 }).status === 0;
}

describe.skipIf(missing)('sonde agent-bundle', () => {
  it('has its own --help, and is listed in sonde --help', () => {
    const help = run('agent-bundle', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/sonde agent-bundle \[--runtime node\|python\] DIR/);
    expect(help.stdout).toMatch(/node --require \/opt\/sonde-agent\/preload\.cjs app\.js/);
    expect(run('--help').stdout).toMatch(/sonde agent-bundle/);
  });

  it('refuses bad arguments with exit 2 and a message naming them', () => {
    const cases: [string[], RegExp][] = [
      [['agent-bundle'], /give exactly one DIR \(got 0\)/],
      [['agent-bundle', 'a', 'b'], /give exactly one DIR \(got 2\)/],
      [['agent-bundle', '--runtime', 'ruby', '/tmp/x'], /--runtime must be node or python, got "ruby"/],
      [['agent-bundle', '--runtme', 'node', '/tmp/x'], /Unknown option '--runtme'/],
    ];
    for (const [args, message] of cases) {
      const r = run(...args);
      expect({ args, status: r.status }).toEqual({ args, status: 2 });
      expect(r.stderr).toMatch(message);
    }
  });

  it('copies the node bundle into a new directory, byte for byte, readable by anyone, and again over its own copy', () => {
    const dir = join(scratch(), 'deep', 'volume');
    for (let i = 0; i < 2; i++) {
      const r = run('agent-bundle', dir);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`copied the node agent into ${dir} \\(\\d+ files, [\\d.]+ MiB\\); load it with: node --require ${dir}/preload\\.cjs app\\.js`));
    }
    const manifest = JSON.parse(readFileSync(join(dir, 'sonde-bundle.json'), 'utf8')) as { files: { path: string; bytes: number }[] };
    expect(walk(dir).sort()).toEqual([...manifest.files.map((f) => f.path), 'sonde-bundle.json'].sort());
    for (const f of manifest.files) {
      expect(readFileSync(join(dir, f.path)).equals(readFileSync(join(BUNDLE, f.path))), f.path).toBe(true);
      expect(statSync(join(dir, f.path)).mode & 0o777, f.path).toBe(0o644);
    }
    expect(statSync(join(dir, 'native')).mode & 0o777).toBe(0o755);
    for (const f of ['preload.cjs', 'agent.cjs', `native/linux-${process.arch}-glibc/abi115/sonde_sampler.node`, 'node_modules/@datadog/pprof/out/src/time-profiler-bindings.js', 'node_modules/node-gyp-build/index.js']) expect(manifest.files.map((m) => m.path)).toContain(f);
  });

  it('says the python bundle is not built when it is not', () => {
    const dist = scratch();
    expect(() => copyAgentBundle('python', dist, join(dist, 'out'))).toThrow(/the python agent bundle is not built .*this build of Sonde has no Python agent/);
    expect(() => copyAgentBundle('node', dist, join(dist, 'out'))).toThrow(/the node agent bundle is not built .*run npm run build/);
    mkdirSync(join(dist, 'agent-bundle', 'node'), { recursive: true });
    expect(() => copyAgentBundle('node', dist, join(dist, 'out'))).toThrow(/not a Node agent bundle \(no preload\.cjs\)/);
  });

  it('puts the python agent where PYTHONPATH points: DIR/python', () => {
    const dist = scratch();
    mkdirSync(join(dist, 'agent-bundle', 'python', 'sonde_agent'), { recursive: true });
    writeFileSync(join(dist, 'agent-bundle', 'python', 'sitecustomize.py'), 'import sonde_agent\n');
    writeFileSync(join(dist, 'agent-bundle', 'python', 'sonde_agent', '__init__.py'), '');
    const dir = join(dist, 'volume');
    const r = copyAgentBundle('python', dist, dir);
    expect(r.target).toBe(join(dir, 'python'));
    expect(r.hint).toBe(`PYTHONPATH=${join(dir, 'python')} python app.py`);
    expect(walk(dir).sort()).toEqual(['python/sitecustomize.py', 'python/sonde_agent/__init__.py']);
  });

  it('refuses a symbolic link in a bundle, and a bundle copied into itself', () => {
    const dist = scratch();
    const src = join(dist, 'agent-bundle', 'node');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'preload.cjs'), '');
    expect(() => copyAgentBundle('node', dist, join(src, 'inside'))).toThrow(/inside the bundle it would copy/);
    spawnSync('ln', ['-s', '/etc/passwd', join(src, 'passwd')]);
    expect(() => copyAgentBundle('node', dist, join(dist, 'out'))).toThrow(AgentBundleError);
    expect(existsSync(join(dist, 'out', 'passwd'))).toBe(false);
  });

  it.skipIf(!canIsolate())('works as uid 65532 with a read-only root file system, into a writable DIR only', () => {
    const base = scratch();
    chmodSync(base, 0o755); // mkdtemp makes it 0700: uid 65532 must get through to the volume
    const volume = join(base, 'volume');
    mkdirSync(volume);
    const script = [
      'set -e',
      'mount -o bind,remount,ro /',
      `mount -t tmpfs -o size=64m,mode=1777 tmpfs ${volume}`,
      `setpriv --reuid=65532 --regid=65532 --clear-groups ${process.execPath} ${CLI} agent-bundle ${volume}/agent`,
      `ls -ln ${volume}/agent/preload.cjs`,
      `setpriv --reuid=65532 --regid=65532 --clear-groups ${process.execPath} ${CLI} agent-bundle ${base}/elsewhere || echo "exit=$?"`,
    ].join('\n');
    const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stdout, r.stderr).toMatch(/copied the node agent into .*\/volume\/agent/);
    expect(r.stdout).toMatch(/^-rw-r--r-- 1 65532 65532 .*\/preload\.cjs$/m);
    expect(r.stderr).toMatch(/sonde agent-bundle: .*elsewhere is (not writable by uid 65532|on a read-only file system)/);
    expect(r.stdout).toMatch(/exit=1/);
  });
});
