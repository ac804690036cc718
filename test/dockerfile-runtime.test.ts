import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './harness/eventually.js';
import { freePort } from './e2e/processes.js';

/**
 * The image, run rather than read: no Docker engine runs here, so this test does the Dockerfile's
 * steps itself in a scratch directory — the build stage's tree after `npm run build` (this worktree's
 * dist/ and native addons), its production-only `npm prune --omit=dev` (offline, on a hard-linked copy
 * of node_modules), then the runtime stage's `COPY --from=build` lines — and runs that tree as the
 * image's USER (65532:65532) with the image's ENV, the way a pod with `readOnlyRootFilesystem` does:
 * in its own mount namespace (`unshare --mount`) every mount but /proc, /sys and /dev is remounted
 * read-only, and only the data volume and the agent bundle's target stay writable. Where the sandbox
 * refuses `unshare`, the tree is still root-owned and so unwritable to 65532, and the test says so.
 *
 * What differs from the image: the Node binary is this machine's (`node` on the image's PATH), and the image's
 * absolute paths (/app, /var/lib/sonde) are mapped into the scratch directory.
 */
const ROOT = join(import.meta.dirname, '..');
const USER = { uid: 65532, gid: 65532 };
const built = existsSync(join(ROOT, 'dist/operator/cli.js'));
const isRoot = process.getuid?.() === 0;
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const IMAGE_PATH = '/usr/local/bin:/usr/bin:/bin';
/** `node` as the image's PATH finds it here (not vitest's own, which may be a Node 22 from node_modules). */
const NODE = spawnSync('sh', ['-c', 'command -v node'], { env: { PATH: IMAGE_PATH }, encoding: 'utf8' }).stdout.trim() || process.execPath;

let scratch: string;
let app: string;
let data: string;
let bundleOut: string;
let env: Record<string, string>;
let readOnlyRoot = false;
const children: ChildProcess[] = [];

/** The runtime stage's instructions (after the last FROM), continuation lines joined. */
function runtimeStage(): string[] {
  const lines = dockerfile.replace(/\\\n\s*/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const from = lines.map((l, i) => (l.startsWith('FROM ') ? i : -1)).filter((i) => i >= 0).pop()!;
  return lines.slice(from + 1);
}

/** The build stage's last RUN, continuation lines joined. */
function buildStageRun(): string {
  const lines = dockerfile.replace(/\\\n\s*/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const froms = lines.map((l, i) => (l.startsWith('FROM ') ? i : -1)).filter((i) => i >= 0);
  const runs = lines.slice(froms[0]! + 1, froms[1]).filter((l) => l.startsWith('RUN '));
  return runs[runs.length - 1]!.slice(4);
}

/** Maps an absolute path of the image into the scratch tree. */
function inScratch(path: string): string {
  if (path === '/var/lib/sonde' || path.startsWith('/var/lib/sonde/')) return join(data, path.slice('/var/lib/sonde'.length));
  if (path.startsWith('/app/')) return join(app, path.slice('/app/'.length));
  return path;
}

/** The image's ENV, with its paths mapped. */
function imageEnv(stage: string[]): Record<string, string> {
  const out: Record<string, string> = { PATH: IMAGE_PATH, HOME: '/' };
  for (const line of stage.filter((l) => l.startsWith('ENV '))) {
    for (const m of line.slice(4).matchAll(/([A-Z_][A-Z0-9_]*)=("[^"]*"|\S+)/g)) out[m[1]!] = inScratch(m[2]!.replace(/^"|"$/g, ''));
  }
  return out;
}

/** The ENTRYPOINT's argv, mapped. */
function entrypoint(stage: string[]): string[] {
  const line = stage.find((l) => l.startsWith('ENTRYPOINT'))!;
  const argv = JSON.parse(line.slice('ENTRYPOINT'.length)) as string[];
  return [argv[0] === 'node' ? NODE : argv[0]!, ...argv.slice(1).map(inScratch)];
}

/**
 * Spawns `argv` as 65532:65532. With a read-only root: a shell in a new mount namespace binds the
 * writable paths onto themselves (so they stay separate, writable mounts), remounts everything else
 * read-only, then `setpriv` drops to the image's user and execs the command.
 */
function spawnAsImageUser(argv: string[], extraEnv: Record<string, string> = {}, cwd = app): ChildProcess {
  const childEnv = { ...env, ...extraEnv };
  if (!readOnlyRoot) return spawn(argv[0]!, argv.slice(1), { cwd, env: childEnv, ...USER, stdio: ['ignore', 'pipe', 'pipe'] });
  const script = [
    'set -e',
    'for w in "$SONDE_TEST_WRITABLE_1" "$SONDE_TEST_WRITABLE_2"; do mount --bind "$w" "$w"; done',
    'mount -o remount,bind,ro /',
    // Every other mount a container's root would hold; /proc, /sys and /dev are the runtime's own.
    `for m in $(awk '{print $2}' /proc/self/mounts | grep -v -E '^/(proc|sys|dev)(/|$)' | grep -v -x -F -e / -e "$SONDE_TEST_WRITABLE_1" -e "$SONDE_TEST_WRITABLE_2"); do mount -o remount,bind,ro "$m" 2>/dev/null || true; done`,
    `exec setpriv --reuid=${USER.uid} --regid=${USER.gid} --clear-groups -- "$@"`,
  ].join('\n');
  return spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', ...argv], {
    cwd,
    env: { ...childEnv, SONDE_TEST_WRITABLE_1: data, SONDE_TEST_WRITABLE_2: bundleOut },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs to the end; resolves with the exit code and the output. */
function runAsImageUser(argv: string[], extraEnv: Record<string, string> = {}, cwd = app): Promise<{ code: number | null; out: string }> {
  const child = spawnAsImageUser(argv, extraEnv, cwd);
  children.push(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out })));
}

function duBytes(path: string): number {
  return Number(execFileSync('du', ['-sb', path], { encoding: 'utf8' }).split('\t')[0]);
}

beforeAll(() => {
  if (!built || !isRoot) return;
  scratch = mkdtempSync(join(tmpdir(), 'sonde-image-'));
  chmodSync(scratch, 0o755);
  // ── the build stage, as it stands after `npm run build && npm prune --omit=dev` ──
  const build = join(scratch, 'src');
  mkdirSync(build);
  for (const f of ['package.json', 'package-lock.json']) cpSync(join(ROOT, f), join(build, f));
  // Hard links: fast, and `npm prune` only unlinks, so this worktree's node_modules is untouched.
  execFileSync('cp', ['-al', realpathSync(join(ROOT, 'node_modules')), join(build, 'node_modules')]);
  // npm rewrites its own lockfile copy; give it one that is not a link to ours.
  rmSync(join(build, 'node_modules/.package-lock.json'), { force: true });
  cpSync(realpathSync(join(ROOT, 'node_modules/.package-lock.json')), join(build, 'node_modules/.package-lock.json'));
  for (const d of ['dist', 'agent/native/out']) {
    mkdirSync(dirname(join(build, d)), { recursive: true });
    execFileSync('cp', ['-al', join(ROOT, d), join(build, d)]);
  }
  // The build stage's last RUN, after `npm run build` (done already): the prune (offline here, as the
  // registry has nothing to add to a prune) and the trimming, as written in the Dockerfile.
  const run = buildStageRun();
  expect(run).toMatch(/^npm run build && npm prune --omit=dev/);
  const steps = run.replace(/^npm run build && /, '').replace('npm prune --omit=dev', 'npm prune --omit=dev --offline --ignore-scripts --no-audit --no-fund');
  execFileSync('sh', ['-c', steps], { cwd: build, stdio: 'ignore' });

  // ── the runtime stage: WORKDIR /app, its COPY --from=build lines, the data directory it makes ──
  const stage = runtimeStage();
  app = join(scratch, 'app');
  data = join(scratch, 'var-lib-sonde');
  bundleOut = join(scratch, 'sonde-agent');
  mkdirSync(app);
  expect(stage).toContain('WORKDIR /app');
  for (const line of stage.filter((l) => l.startsWith('COPY --from=build '))) {
    const [src, dest] = line.split(/\s+/).slice(2) as [string, string];
    const target = join(app, dest);
    mkdirSync(dirname(target), { recursive: true });
    execFileSync('cp', ['-al', join(build, src.replace(/^\/src\//, '')), dest.endsWith('/') || dest === './' ? target + '/' : target]);
  }
  expect(stage.some((l) => /mkdir -p \/var\/lib\/sonde && chown 65532:65532 \/var\/lib\/sonde/.test(l))).toBe(true);
  // The data volume and the agent bundle's emptyDir belong to the image's user, as in the pod.
  for (const d of [data, bundleOut]) {
    mkdirSync(d);
    chownSync(d, USER.uid, USER.gid);
  }
  env = imageEnv(stage);
  readOnlyRoot = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount -o remount,bind,ro / && ! touch /.sonde-ro-probe 2>/dev/null'], { stdio: 'ignore' }).status === 0;
  if (!readOnlyRoot) console.warn('dockerfile-runtime: `unshare --mount` was refused; running as 65532 on a root-owned tree without a read-only remount');
}, 120_000);

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe.skipIf(!built || !isRoot)('the image, run as its user with a read-only root', () => {
  it('keeps production dependencies only, and is small', () => {
    const modules = readdirSync(join(app, 'node_modules'));
    for (const dev of ['vitest', 'typescript', 'esbuild', 'node22', 'node24', 'playwright-core', 'node-gyp', 'fast-json-patch', 'express']) expect(modules, dev).not.toContain(dev);
    for (const dep of ['fastify', 'better-sqlite3', 'ws', 'pino', '@kubernetes']) expect(modules, dep).toContain(dep);
    const bytes = duBytes(app);
    // The runtime tree on top of node:24-bookworm-slim (about 200 MB unpacked): README states the sum.
    console.log(`dockerfile-runtime: the runtime tree /app is ${(bytes / 1e6).toFixed(0)} MB (node_modules ${(duBytes(join(app, 'node_modules')) / 1e6).toFixed(0)} MB, dist ${(duBytes(join(app, 'dist')) / 1e6).toFixed(1)} MB)`);
    expect(bytes).toBeLessThan(100e6);
    expect(existsSync(join(app, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'))).toBe(true);
  });

  it('cannot write outside its volumes (the sandbox is what the test claims)', async () => {
    const probe = (path: string): string[] => [NODE, '-e', `try { require('fs').writeFileSync(${JSON.stringify(path)}, 'x'); console.log('WROTE') } catch (e) { console.log(e.code) }`];
    expect((await runAsImageUser(probe(join(app, 'probe')))).out.trim()).toMatch(readOnlyRoot ? /^(EROFS|EACCES)$/ : /^EACCES$/);
    if (readOnlyRoot) expect((await runAsImageUser(probe(join(tmpdir(), `sonde-probe-${process.pid}`)))).out.trim()).toBe('EROFS');
    expect((await runAsImageUser(probe(join(data, 'probe')))).out.trim()).toBe('WROTE');
  });

  it('loads every production dependency from the trimmed tree', async () => {
    const deps = Object.keys((JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies);
    // Run from /app (the image's WORKDIR, as every run here), where bare specifiers resolve to its node_modules.
    const script = `for (const d of ${JSON.stringify(deps)}) await import(d); const Db = (await import('better-sqlite3')).default; new Db(':memory:').exec('select 1'); console.log('LOADED ${deps.length}');`;
    const { code, out } = await runAsImageUser([NODE, '--input-type=module', '-e', script]);
    expect(out).toContain(`LOADED ${deps.length}`);
    expect(code).toBe(0);
  });

  it('answers `sonde operator --help` through its entrypoint', async () => {
    const { code, out } = await runAsImageUser([...entrypoint(runtimeStage()), 'operator', '--help']);
    expect(out).toMatch(/sonde operator/);
    expect(code).toBe(0);
  });

  it('serves the sample app and its traffic for the tour (`sonde sample-app`, `sonde sample-traffic`)', async () => {
    const port = await freePort();
    const child = spawnAsImageUser([...entrypoint(runtimeStage()), 'sample-app', '--port', String(port), '--host', '0.0.0.0']);
    children.push(child);
    try {
      const res = await eventually(async () => (await fetch(`http://127.0.0.1:${port}/api/orders/1001`).catch(() => undefined))?.ok || undefined, 20_000, 'sample app answers');
      expect(res).toBe(true);
      // The tour's traffic generator against it, stopped as Kubernetes stops it (SIGTERM).
      const traffic = spawnAsImageUser([...entrypoint(runtimeStage()), 'sample-traffic', '--target', `http://127.0.0.1:${port}`, '--pause-ms', '5']);
      children.push(traffic);
      let out = '';
      traffic.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      traffic.stderr!.on('data', (c: Buffer) => (out += c.toString()));
      const exited = new Promise<number | null>((resolve) => traffic.once('exit', (code) => resolve(code)));
      await eventually(() => (out.includes('sending traffic') ? true : undefined), 20_000, 'traffic started');
      await new Promise((r) => setTimeout(r, 1500));
      traffic.kill('SIGTERM');
      expect(await exited, out).toBe(0);
      const [, sent, errors] = /sent (\d+) requests, (\d+) errors/.exec(out) ?? [];
      expect(Number(sent), out).toBeGreaterThan(0);
      expect(Number(errors), out).toBe(0);
    } finally {
      child.kill('SIGTERM');
    }
  });

  const cliHasBundle = built && execFileSync(process.execPath, [join(ROOT, 'dist/operator/cli.js'), '--help'], { encoding: 'utf8' }).includes('agent-bundle');
  it.skipIf(!cliHasBundle)('copies the agent bundle into a writable directory (`sonde agent-bundle`, from the bundle branch: skipped where the CLI lacks it)', async () => {
    const { code, out } = await runAsImageUser([...entrypoint(runtimeStage()), 'agent-bundle', '--runtime', 'node', bundleOut]);
    expect(code, out).toBe(0);
    expect(existsSync(join(bundleOut, 'preload.cjs'))).toBe(true);
  });

  it('starts a standalone operator that answers /healthz and keeps its store on the data volume', async () => {
    const port = await freePort();
    // The image listens on 0.0.0.0, so standalone it needs a token (as a user running the image would set).
    const child = spawnAsImageUser([...entrypoint(runtimeStage()), 'operator', '--standalone', '--port', String(port)], { SONDE_TOKEN: 'image-test-token' });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    try {
      await eventually(async () => {
        if (child.exitCode !== null) throw new Error(`operator exited ${child.exitCode}: ${out.slice(-2000)}`);
        return (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok || undefined;
      }, 30_000, 'operator /healthz');
      expect(existsSync(join(data, 'sonde.db'))).toBe(true);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('refuses a data directory it cannot write with a message naming the flag', async () => {
    const { code, out } = await runAsImageUser([...entrypoint(runtimeStage()), 'operator', '--standalone', '--port', '0'], { SONDE_TOKEN: 'image-test-token', SONDE_DATA: join(app, '.sonde-data') });
    expect(out).toMatch(/data directory .*\.sonde-data is not writable by user 65532 \((EROFS|EACCES)\): set --data DIR or SONDE_DATA/);
    expect(code).toBe(2);
  });
});
