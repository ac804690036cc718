import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deserializeTree, type SerializedTree } from '../../src/model/serialized.js';
import type { SessionView } from '../../src/session/types.js';
import { NODES } from '../agent/helpers/build.js';
import {
  type AppProcess,
  CLI,
  createSession,
  drive,
  eventually,
  getJson,
  missingBuild,
  type OperatorProcess,
  Proc,
  ROOT,
  sessionView,
  settledSession,
  sleep,
  startOperator,
  stopAll,
  waitForAgents,
  WORK_TYPE,
} from './processes.js';

const run = promisify(execFile);
const BUNDLE = join(ROOT, 'dist/agent-bundle/node');
const NODE18 = join(ROOT, 'node_modules/node18/bin/node');
/** The platform folder of the bundle's interrupt sampler on this machine (a glibc Linux). */
const KEY = `linux-${process.arch}-glibc`;
const missing = missingBuild() ?? (existsSync(join(BUNDLE, 'preload.cjs')) ? undefined : `${BUNDLE} is missing: run \`npm run build\` first`);
/** Iterations of the hot loop per request: ~10-25 ms, several 5 ms samples per request. */
const HOT_WORK = 3_000_000;

let scratch = '';
/** The directory standing for the pod's shared volume, filled by `sonde agent-bundle`. */
let volume = '';
/** An app directory with no node_modules anywhere above it. */
let cleanApp = '';
/** An app directory whose node_modules holds another ws, and a broken pino, @datadog/pprof, node-gyp-build and acorn. */
let dirtyApp = '';
const apps: Proc[] = [];

function writeModule(dir: string, name: string, version: string, files: Record<string, string>): void {
  const at = join(dir, 'node_modules', ...name.split('/'));
  for (const [file, text] of Object.entries({ 'package.json': JSON.stringify({ name, version, main: 'index.js' }), ...files })) {
    mkdirSync(join(at, file, '..'), { recursive: true });
    writeFileSync(join(at, file), text);
  }
}

beforeAll(async () => {
  if (missing) return;
  scratch = mkdtempSync(join(tmpdir(), 'sonde-bundle-e2e-'));
  volume = join(scratch, 'volume');
  // The init container's step, as a real command: no shell, the built CLI.
  const { stdout } = await run(process.execPath, [CLI, 'agent-bundle', '--runtime', 'node', volume]);
  expect(stdout).toContain(`node --require ${join(volume, 'preload.cjs')} app.js`);

  cleanApp = join(scratch, 'clean-app');
  mkdirSync(cleanApp);
  for (const f of ['app.mjs', 'worker-pool-app.mjs', 'wrapper.mjs']) copyFileSync(join(ROOT, 'test/e2e/fixtures', f), join(cleanApp, f));

  dirtyApp = join(scratch, 'dirty-app');
  mkdirSync(dirtyApp);
  copyFileSync(join(ROOT, 'test/e2e/fixtures/app.mjs'), join(dirtyApp, 'app.mjs'));
  // The app's own ws is another version, which the app itself uses; pino and @datadog/pprof are broken.
  writeModule(dirtyApp, 'ws', '7.0.0', { 'index.js': "module.exports = { appsOwnWs: '7.0.0' };" });
  writeModule(dirtyApp, 'pino', '6.0.0', { 'index.js': "throw new Error('the app\\'s broken pino was loaded');" });
  writeModule(dirtyApp, '@datadog/pprof', '1.0.0', {
    'index.js': "throw new Error('the app\\'s broken @datadog/pprof was loaded');",
    'out/src/time-profiler-bindings.js': "throw new Error('the app\\'s broken @datadog/pprof was loaded');",
    'out/src/async-context-frame.js': "throw new Error('the app\\'s broken @datadog/pprof was loaded');",
  });
  writeModule(dirtyApp, 'node-gyp-build', '1.0.0', { 'index.js': "throw new Error('the app\\'s broken node-gyp-build was loaded');" });
  // The function-start worker parses with the bundle's own acorn (function-starts-worker.cjs), never the app's.
  writeModule(dirtyApp, 'acorn', '1.0.0', { 'index.js': "throw new Error('the app\\'s broken acorn was loaded');", 'dist/acorn.js': "throw new Error('the app\\'s broken acorn was loaded');" });
  writeFileSync(join(dirtyApp, 'main.mjs'), "import ws from 'ws';\nconsole.error('app ws ' + ws.appsOwnWs);\nawait import('./app.mjs');\n");
}, 60_000);

afterAll(async () => {
  for (const p of apps) {
    try {
      process.kill(-p.child.pid!, 'SIGKILL'); // the group: the app and any child it runs
    } catch {
      // already gone
    }
  }
  await Promise.all(apps.splice(0).map((p) => p.stop('SIGKILL', 1000)));
  await stopAll();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

interface BundledApp {
  node: string;
  dir: string;
  script: string;
  args?: string[];
  pod: string;
  agentUrl?: string;
  hot?: 'alpha' | 'beta' | 'gamma';
  env?: NodeJS.ProcessEnv;
}

/** Starts an app as an injected pod runs it: NODE_OPTIONS=--require <volume>/preload.cjs, from its own directory. */
async function startBundledApp(o: BundledApp): Promise<AppProcess> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_OPTIONS: `--require ${join(volume, 'preload.cjs')}`,
    HOT: o.hot ?? 'alpha',
    WORK: String(HOT_WORK),
    POD_NAME: o.pod,
    POD_NAMESPACE: 'default',
    SONDE_LABELS: 'app=bundle-e2e',
    SONDE_LOG_LEVEL: 'warn',
    ...(o.agentUrl ? { SONDE_URL: o.agentUrl } : {}),
    ...o.env,
  };
  // Its own process group: an app run by a wrapper (npm start) is the wrapper's child, and a SIGKILL of the
  // wrapper alone would leave it serving (and dialling a stopped operator) after the suite.
  const proc = new Proc(spawn(o.node, [o.script, ...(o.args ?? [])], { cwd: o.dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true }), o.pod);
  apps.push(proc);
  const port = await eventually(() => {
    if (!proc.running) throw new Error(`app ${o.pod} exited: ${proc.out.slice(-2000)}`);
    const m = /listening (\d+)/.exec(proc.out);
    return m ? Number(m[1]) : undefined;
  }, 20_000, `app ${o.pod} listening`);
  return { proc, port, pod: o.pod };
}

interface StoredRequest {
  pod: string;
  type: string;
  samples: number;
  cpuUs: number;
}

/**
 * Runs one session over `apps` to completion under traffic; returns the settled view and the stored
 * requests. `perPod` sets the spec's maxRequestsPerPod.
 */
async function profile(op: OperatorProcess, running: AppProcess[], name: string, n = 24, perPod?: number): Promise<{ done: SessionView; requests: StoredRequest[]; frames: string[] }> {
  const stop = new AbortController();
  const traffic = drive(running, stop.signal);
  try {
    await waitForAgents(op.url, running.length, WORK_TYPE);
    const created = await createSession(op.url, { name, spec: { selector: { matchLabels: { app: 'bundle-e2e' } }, request: WORK_TYPE, requests: n, duration: '2m', sampleInterval: '5ms', ...(perPod === undefined ? {} : { maxRequestsPerPod: perPod }) } });
    await eventually(async () => ((await sessionView(op.url, created.id)).status.phase === 'Completed' ? true : undefined), 60_000, 'session Completed');
    stop.abort();
    await traffic;
    const done = await settledSession(op.url, created.id);
    const requests = (await getJson<{ items: StoredRequest[] }>(`${op.url}/api/v1/sessions/${created.id}/requests`)).items;
    const tree = await getJson<{ tree: SerializedTree }>(`${op.url}/api/v1/sessions/${created.id}/tree`);
    return { done, requests, frames: deserializeTree(tree.tree).frames.map((f) => f.name) };
  } finally {
    stop.abort();
    await traffic;
  }
}

/** The Node addons (`*.node`) a process has mapped, from /proc/<pid>/maps. */
function nativeLibraries(proc: Proc): string[] {
  const maps = readFileSync(`/proc/${proc.child.pid}/maps`, 'utf8');
  return [...new Set(maps.split('\n').map((l) => l.split(/\s+/).slice(5).join(' ')).filter((f) => f.endsWith('.node')))].sort();
}

async function agentsByPod(op: OperatorProcess): Promise<Map<string, { id: string; runtimeVersion: string; connectedAt: string }>> {
  const agents = await getJson<{ items: { id: string; pod: { name: string }; runtimeVersion: string; connectedAt: string }[] }>(`${op.url}/api/v1/agents`);
  return new Map(agents.items.map((a) => [a.pod.name, a]));
}

describe.skipIf(missing)('the agent bundle, copied by `sonde agent-bundle` and preloaded with --require', () => {
  const versions = ['20', '22', '24'] as const;

  it('profiles a session on Node 20, 22 and 24 run from a directory with no node_modules', async () => {
    const op = await startOperator(['--standalone', '--data', join(scratch, 'data-clean')]);
    const hots = ['alpha', 'beta', 'gamma'] as const;
    const running = await Promise.all(versions.map((v, i) => startBundledApp({ node: NODES[v]!, dir: cleanApp, script: 'app.mjs', pod: `clean-node${v}`, agentUrl: op.agentUrl, hot: hots[i] })));
    const { done, requests, frames } = await profile(op, running, 'clean');
    expect(done.status.requestsProfiled).toBeGreaterThanOrEqual(24);
    expect(done.status.pods.map((p) => p.name).sort()).toEqual(['clean-node20', 'clean-node22', 'clean-node24']);
    expect(requests).toHaveLength(done.status.requestsProfiled);
    for (const v of versions) expect(requests.filter((r) => r.pod === `clean-node${v}`).length).toBeGreaterThan(0);
    expect(frames).toEqual(expect.arrayContaining(['alphaHotLoop', 'betaHotLoop', 'gammaHotLoop']));
    // Each pod ran on the Node it was started with.
    const agents = await agentsByPod(op);
    for (const v of versions) expect(agents.get(`clean-node${v}`)?.runtimeVersion).toMatch(new RegExp(`^v?${v}\\.`));
    // Each took its samples with the bundle's interrupt sampler for its ABI, and loaded no other addon.
    const abi = { '20': '115', '22': '127', '24': '137' };
    running.forEach((a, i) => expect(nativeLibraries(a.proc)).toEqual([`${volume}/native/${KEY}/abi${abi[versions[i]!]}/sonde_sampler.node`]));
    for (const a of running) expect(a.proc.out).not.toMatch(/sonde agent/);
  }, 180_000);

  it("ignores the app's own ws, pino and @datadog/pprof (another version, broken), V8's sampler included", async () => {
    const op = await startOperator(['--standalone', '--data', join(scratch, 'data-dirty')]);
    const running = await Promise.all(
      versions.map((v) =>
        startBundledApp({ node: NODES[v]!, dir: dirtyApp, script: 'main.mjs', pod: `dirty-node${v}`, agentUrl: op.agentUrl, hot: 'beta', ...(v === '22' ? { env: { SONDE_SAMPLER: 'v8' } } : {}) }),
      ),
    );
    // V8's sampler skips the requests of its first 500 ms (its warm-up), and the two interrupt-sampler
    // pods can take any shared N between them in less than that. Capped at a third of N each, they
    // cannot: the session completes only once the V8 pod has reported its share.
    const { done, requests, frames } = await profile(op, running, 'dirty', 30, 10);
    expect(done.status.pods.map((p) => p.name).sort()).toEqual(['dirty-node20', 'dirty-node22', 'dirty-node24']);
    for (const v of versions) expect(requests.filter((r) => r.pod === `dirty-node${v}`), `requests of dirty-node${v}`).toHaveLength(10);
    for (const v of versions) expect(requests.filter((r) => r.pod === `dirty-node${v}`).reduce((n, r) => n + r.samples, 0), `samples of dirty-node${v}`).toBeGreaterThan(0);
    expect(frames).toContain('betaHotLoop');
    // The app still gets its own ws; nothing of the app's broken copies was loaded by the agent.
    for (const a of running) {
      expect(a.proc.out).toContain('app ws 7.0.0');
      expect(a.proc.out).not.toMatch(/broken|sonde agent|not started/);
    }
    // The native code each process loaded came from the volume: Node 22 V8's sampler (the bundle's
    // @datadog/pprof prebuild), the others the bundle's interrupt sampler for their ABI.
    const [p20, p22, p24] = running.map((a) => nativeLibraries(a.proc));
    expect(p22).toEqual([expect.stringMatching(new RegExp(`^${volume}/node_modules/@datadog/pprof/prebuilds/linux-${process.arch}/dd_pprof\\.node\\.abi127\\.node$`))]);
    expect(p20).toEqual([`${volume}/native/${KEY}/abi115/sonde_sampler.node`]);
    expect(p24).toEqual([`${volume}/native/${KEY}/abi137/sonde_sampler.node`]);
  }, 180_000);

  it('starts one agent when an app is given both the bundle (--require) and the dist/ entry (--import)', async () => {
    const op = await startOperator(['--standalone', '--data', join(scratch, 'data-twice')]);
    await startBundledApp({ node: NODES['22']!, dir: cleanApp, script: 'app.mjs', pod: 'twice-0', agentUrl: op.agentUrl, env: { NODE_OPTIONS: `--require ${join(volume, 'preload.cjs')} --import ${join(ROOT, 'dist/agent/register.js')}` } });
    await waitForAgents(op.url, 1);
    await sleep(1500);
    expect([...(await agentsByPod(op)).keys()]).toEqual(['twice-0']);
    expect(await (await fetch(`${op.url}/metrics`)).text()).toMatch(/^sonde_agent_messages_total\{type="hello"\} 1$/m);
  }, 60_000);

  it('connects from the process that serves, not from a wrapper that runs it (npm start), and its session does not flap', async () => {
    const op = await startOperator(['--standalone', '--data', join(scratch, 'data-wrapper')]);
    const app = await startBundledApp({ node: NODES['24']!, dir: cleanApp, script: 'wrapper.mjs', args: ['app.mjs'], pod: 'wrapped-0', agentUrl: op.agentUrl });
    // The wrapper's own agent (NODE_OPTIONS reached it) stays unconnected: it never serves.
    const { done } = await profile(op, [app], 'wrapped', 20);
    expect(done.status.conditions.find((c) => c.type === 'Complete')?.reason).toBe('RequestsReached');
    expect([...(await agentsByPod(op)).keys()]).toEqual(['wrapped-0']);
    expect(await (await fetch(`${op.url}/metrics`)).text()).toMatch(/^sonde_agent_messages_total\{type="hello"\} 1$/m);
  }, 120_000);

  it('never throws into the app: a bad variable, or a damaged bundle, is one line on stderr and the app serves', async () => {
    const damaged = join(scratch, 'damaged');
    const copied = await run(process.execPath, [CLI, 'agent-bundle', damaged]);
    expect(copied.stdout).toContain('copied the node agent');
    writeFileSync(join(damaged, 'agent.cjs'), 'throw new Error("damaged bundle");\n');
    const cases: [NodeJS.ProcessEnv, RegExp][] = [
      [{ SONDE_LOG_LEVEL: 'loud' }, /^sonde agent: not started: SONDE_LOG_LEVEL must be one of/],
      [{ SONDE_URL: 'ws://sonde.sonde-system.svc:7070/v1/agents', SONDE_TOKEN_FILE: '/var/run/secrets/sonde/token' }, /^sonde agent: not started: refusing to send the token of SONDE_TOKEN_FILE/],
      [{ NODE_OPTIONS: `--require ${join(damaged, 'preload.cjs')}` }, /^sonde agent: not started: damaged bundle$/],
    ];
    for (const [i, [env, line]] of cases.entries()) {
      const app = await startBundledApp({ node: NODES['20']!, dir: cleanApp, script: 'app.mjs', pod: `bad-${i}`, env });
      const res = await fetch(`http://127.0.0.1:${app.port}/work/1`);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      expect(app.proc.out.split('\n').filter((l) => /sonde/i.test(l))).toEqual([expect.stringMatching(line)]);
      await app.proc.stop();
    }
  }, 60_000);

  it.skipIf(!existsSync(NODE18))('leaves an app on Node 18 untouched, with one line on stderr', async () => {
    const op = await startOperator(['--standalone', '--data', join(scratch, 'data-18')]);
    const app = await startBundledApp({ node: NODE18, dir: cleanApp, script: 'app.mjs', pod: 'old-node18', agentUrl: op.agentUrl, env: { SONDE_LOG_LEVEL: 'info' } });
    const res = await fetch(`http://127.0.0.1:${app.port}/work/1`);
    expect(res.status).toBe(200);
    await sleep(1000);
    const agentLines = app.proc.out.split('\n').filter((l) => /sonde/i.test(l));
    expect(agentLines).toEqual([expect.stringMatching(/^sonde agent: not started: Node\.js 18\.\d+\.\d+ is older than 20, the oldest the agent supports; the app runs without it$/)]);
    expect((await getJson<{ items: unknown[] }>(`${op.url}/api/v1/agents`)).items).toEqual([]);
  }, 60_000);

  it('opens one connection for an app with a worker pool (the preload runs in every Worker), and its session does not flap', async () => {
    const op = await startOperator(['--standalone', '--data', join(scratch, 'data-pool')]);
    const app = await startBundledApp({ node: NODES['20']!, dir: cleanApp, script: 'worker-pool-app.mjs', pod: 'pool-0', agentUrl: op.agentUrl });
    await waitForAgents(op.url, 1);
    const before = (await agentsByPod(op)).get('pool-0');
    const { done } = await profile(op, [app], 'pool', 20);
    expect(done.status.conditions.find((c) => c.type === 'Complete')?.reason).toBe('RequestsReached');
    const after = await agentsByPod(op);
    expect([...after.keys()]).toEqual(['pool-0']);
    // The same connection throughout, and it said hello once: no Worker dialled as the same pod.
    expect(after.get('pool-0')?.id).toBe(before?.id);
    expect(after.get('pool-0')?.connectedAt).toBe(before?.connectedAt);
    const metrics = await (await fetch(`${op.url}/metrics`)).text();
    expect(metrics).toMatch(/^sonde_agent_messages_total\{type="hello"\} 1$/m);
    expect(app.proc.out).not.toMatch(/sonde agent/);
  }, 120_000);
});
