import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { byFunction } from '../../src/model/by-function.js';
import { deserializeTree, type SerializedTree } from '../../src/model/serialized.js';
import { AGENT, type AppProcess, ROOT, createSession, drive, eventually, getJson, missingBuild, Proc, sessionView, settledSession, startOperator, stopAll, waitForAgents, WORK_TYPE } from './processes.js';

const APP = join(ROOT, 'test/e2e/fixtures/same-names-app.mjs');
const PRELOAD = join(ROOT, 'dist/agent-bundle/node/preload.cjs');
const missing = missingBuild() ?? (existsSync(PRELOAD) ? undefined : 'the agent bundle is missing: run `npm run build` first');
const dirs: string[] = [];
const apps: Proc[] = [];

afterAll(async () => {
  await Promise.all(apps.map((p) => p.stop('SIGKILL', 1000)));
  await stopAll();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The start line of each function of the fixture: the line after its `// start: NAME` marker. */
function starts(): Record<string, number> {
  const out: Record<string, number> = {};
  readFileSync(APP, 'utf8')
    .split('\n')
    .forEach((l, i) => {
      const m = /\/\/ start: (\S+)/.exec(l);
      if (m) out[m[1]!] = i + 2;
    });
  return out;
}

async function startSameNamesApp(agentUrl: string, pod: string, sampler: 'interrupt' | 'v8', loader: string[]): Promise<AppProcess> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, SONDE_URL: agentUrl, POD_NAME: pod, POD_NAMESPACE: 'default', SONDE_LABELS: `app=${pod}`, SONDE_LOG_LEVEL: 'warn', SONDE_SAMPLER: sampler, WORK: '150000' };
  const proc = new Proc(spawn(process.execPath, [...loader, APP], { env, stdio: ['ignore', 'pipe', 'pipe'] }), pod);
  apps.push(proc);
  const port = await eventually(() => {
    if (!proc.running) throw new Error(`${pod} exited: ${proc.out.slice(-2000)}`);
    const m = /listening (\d+)/.exec(proc.out);
    return m ? Number(m[1]) : undefined;
  }, 20_000, `${pod} listening`);
  return { proc, port, pod };
}

interface HotspotsAnswer {
  items: { frame: { name: string; file: string; line: number }; selfUs: number }[];
}

/**
 * Two functions named `handler` in one file and a method `get` in two classes of that file, profiled
 * through a real standalone operator under each sampler: the interrupt sampler from the agent bundle's
 * preload (as injected; its frames get their start from the bundled parser) and V8's from dist/ (its
 * profile nodes carry the start). The tree's frames carry each function's start line, the status
 * hotspots and the cluster hotspot table list the four functions apart at their start lines, and both
 * samplers give one function the same start, so the cluster table has one row per function.
 */
describe.skipIf(missing)('same-named functions of one file, profiled', () => {
  it('stay apart at their start lines, under both samplers, in the tree, status and hotspot table', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sonde-funcline-e2e-'));
    dirs.push(dir);
    const at = starts();
    expect(Object.keys(at).sort()).toEqual(['get-orders', 'get-users', 'handler-a', 'handler-b']);
    const runs = [
      { pod: 'fl-interrupt', sampler: 'interrupt' as const, loader: ['--require', PRELOAD] },
      { pod: 'fl-v8', sampler: 'v8' as const, loader: ['--import', AGENT] },
    ];
    const op = await startOperator(['--standalone', '--auth', 'none', '--data', join(dir, 'data')]);
    const running = await Promise.all(runs.map((r) => startSameNamesApp(op.agentUrl, r.pod, r.sampler, r.loader)));
    const stop = new AbortController();
    const traffic = drive(running, stop.signal);
    const want = (name: string, ...keys: string[]) => keys.map((k) => `${name} same-names-app.mjs:${at[k]}`);
    try {
      await waitForAgents(op.url, 2, WORK_TYPE);
      for (const r of runs) {
        const created = await createSession(op.url, { name: `funcline-${r.pod}`, spec: { selector: { matchLabels: { app: r.pod } }, request: WORK_TYPE, requests: 20, duration: '2m', sampleInterval: '1ms' } });
        await eventually(async () => ((await sessionView(op.url, created.id)).status.phase === 'Completed' ? true : undefined), 90_000, `${r.pod} session Completed`);
        const done = await settledSession(op.url, created.id);
        const { tree } = await getJson<{ tree: SerializedTree }>(`${op.url}/api/v1/sessions/${created.id}/tree`);
        const t = deserializeTree(tree);
        const fnFrames = (name: string) => [...new Set(t.frames.filter((f) => f.name === name && f.file === APP).map((f) => f.functionLine))].sort();
        // Every sampled line of each function carries that function's start (none is unknown).
        expect({ pod: r.pod, handler: fnFrames('handler'), get: fnFrames('get') }).toEqual({
          pod: r.pod,
          handler: [at['handler-a'], at['handler-b']].sort(),
          get: [at['get-orders'], at['get-users']].sort(),
        });
        // Aggregated by function: four functions, each at its start line.
        const fn = byFunction(t).tree.frames.filter((f) => f.file === APP && (f.name === 'handler' || f.name === 'get'));
        expect(fn.map((f) => `${f.name}:${f.line}`).sort()).toEqual([`get:${at['get-orders']}`, `get:${at['get-users']}`, `handler:${at['handler-a']}`, `handler:${at['handler-b']}`].sort());
        // The status's top five name them apart, each at its start line (how many of the four make the
        // top five depends on the sampler: the interrupt sampler charges much of these loops to native code).
        // (The path is shown relative to the app's root, whatever that is here: only the name and line are checked.)
        const expected = [...want('handler', 'handler-a', 'handler-b'), ...want('get', 'get-orders', 'get-users')];
        const named = done.status.hotspots.map((h) => h.frame).filter((f) => /^(handler|get) /.test(f)).map((f) => f.replace(/^(\S+) (?:\S*\/)?(same-names-app\.mjs:\d+)$/, '$1 $2'));
        expect(named.filter((f) => !expected.includes(f)), r.pod).toEqual([]);
        expect(new Set(named).size, `${r.pod}: ${named.join(', ')}`).toBeGreaterThanOrEqual(r.sampler === 'v8' ? 3 : 2);
      }
      // The cluster hotspot table over both sessions (both samplers): one row per function.
      const hs = await getJson<HotspotsAnswer>(`${op.url}/api/v1/hotspots?request=${encodeURIComponent(WORK_TYPE)}&limit=50`);
      // The same-named functions' rows (under a loaded machine the fixture's own server callback can take a
      // sample too, as an anonymous frame of the same file: it is not what this checks).
      const rows = hs.items.filter((i) => i.frame.file === APP && (i.frame.name === 'handler' || i.frame.name === 'get')).map((i) => `${i.frame.name}:${i.frame.line}`);
      expect(rows.sort()).toEqual([`get:${at['get-orders']}`, `get:${at['get-users']}`, `handler:${at['handler-a']}`, `handler:${at['handler-b']}`].sort());
    } finally {
      stop.abort();
      await traffic;
    }
  }, 240_000);
});
