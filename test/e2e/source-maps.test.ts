import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deserializeTree, type SerializedTree } from '../../src/model/serialized.js';
import { buildWithEsbuild, buildWithTsc, markerPosition, TS_SERVICE } from '../harness/ts-service-build.js';
import { AGENT, type AppProcess, ROOT, createSession, drive, eventually, getJson, missingBuild, Proc, sessionView, settledSession, startOperator, stopAll, waitForAgents, WORK_TYPE } from './processes.js';

const missing = missingBuild() ?? (existsSync(join(ROOT, 'dist/agent-bundle/node/preload.cjs')) ? undefined : 'the agent bundle is missing: run `npm run build` first');
const dirs: string[] = [];
const apps: Proc[] = [];

afterAll(async () => {
  await Promise.all(apps.map((p) => p.stop('SIGKILL', 1000)));
  await stopAll();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The TypeScript lines of priceOrders, from its declaration to its return. */
function hotFunctionLines(): { first: number; last: number } {
  const lines = readFileSync(TS_SERVICE, 'utf8').split('\n');
  const first = lines.findIndex((l) => l.startsWith('function priceOrders')) + 1;
  const last = lines.findIndex((l) => l.includes('return { id: seed')) + 1;
  return { first, last };
}

/** The agent bundle's preload, what the webhook injects (`NODE_OPTIONS=--require …`). */
const PRELOAD = join(ROOT, 'dist/agent-bundle/node/preload.cjs');

/** The compiled service with the agent (`--import` of dist/, or the bundle's preload), as pod `pod`, with the given sampler. */
async function startTsApp(entry: string, agentUrl: string, pod: string, sampler: 'interrupt' | 'v8', loader: string[]): Promise<AppProcess> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, SONDE_URL: agentUrl, POD_NAME: pod, POD_NAMESPACE: 'default', SONDE_LABELS: `app=${pod}`, SONDE_LOG_LEVEL: 'warn', SONDE_SAMPLER: sampler, WORK: '2000000' };
  const proc = new Proc(spawn(process.execPath, [...loader, entry], { env, stdio: ['ignore', 'pipe', 'pipe'] }), pod);
  apps.push(proc);
  const port = await eventually(() => {
    if (!proc.running) throw new Error(`${pod} exited: ${proc.out.slice(-2000)}`);
    const m = /listening (\d+)/.exec(proc.out);
    return m ? Number(m[1]) : undefined;
  }, 20_000, `${pod} listening`);
  return { proc, port, pod };
}

/**
 * A TypeScript service compiled by tsc and one bundled by esbuild, each run with the agent against a
 * real standalone operator: the profile's hot frame names the `.ts` file and a line of the hot function
 * there (the compiled lines differ), says it came through a source map, and so do the status's hotspots.
 * The tsc build runs under the interrupt sampler (lines and columns) from dist/, the esbuild one under
 * V8's (lines only) from the agent bundle's preload, as injected into pods.
 */
describe.skipIf(missing)('TypeScript services profiled through their source maps', () => {
  it('name the .ts file and line of the hot function, for tsc and esbuild builds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sonde-srcmap-e2e-'));
    dirs.push(dir);
    mkdirSync(join(dir, 'tsc'));
    mkdirSync(join(dir, 'esbuild'));
    const builds = [
      { pod: 'ts-tsc', entry: buildWithTsc(join(dir, 'tsc')), sampler: 'interrupt' as const, loader: ['--import', AGENT] },
      { pod: 'ts-esbuild', entry: buildWithEsbuild(join(dir, 'esbuild')), sampler: 'v8' as const, loader: ['--require', PRELOAD] },
    ];
    const hot = hotFunctionLines();
    expect(hot.first).toBeGreaterThan(0);
    for (const b of builds) {
      // The compiled hot line is outside the TypeScript function's lines: an unmapped frame cannot pass.
      const js = markerPosition(b.entry).line;
      expect(js < hot.first || js > hot.last).toBe(true);
    }
    const op = await startOperator(['--standalone', '--auth', 'none', '--data', join(dir, 'data')]);
    const running = await Promise.all(builds.map((b) => startTsApp(b.entry, op.agentUrl, b.pod, b.sampler, b.loader)));
    const stop = new AbortController();
    const traffic = drive(running, stop.signal);
    try {
      await waitForAgents(op.url, 2, WORK_TYPE);
      for (const b of builds) {
        const created = await createSession(op.url, { name: `srcmap-${b.pod}`, spec: { selector: { matchLabels: { app: b.pod } }, request: WORK_TYPE, requests: 10, duration: '2m', sampleInterval: '5ms' } });
        await eventually(async () => ((await sessionView(op.url, created.id)).status.phase === 'Completed' ? true : undefined), 90_000, `${b.pod} session Completed`);
        const done = await settledSession(op.url, created.id);
        const { tree } = await getJson<{ tree: SerializedTree }>(`${op.url}/api/v1/sessions/${created.id}/tree`);
        const t = deserializeTree(tree);
        // The frame with the most self time among code frames is the hot function's, in the .ts file.
        let top = -1;
        for (let i = 1; i < t.size; i++) {
          if (t.frame(i)?.kind !== 'code') continue;
          if (top < 0 || t.self.wallUs[i]! > t.self.wallUs[top]!) top = i;
        }
        const f = t.frame(top)!;
        expect({ pod: b.pod, name: f.name, file: f.file, mappedFrom: f.mappedFrom }).toEqual({ pod: b.pod, name: 'priceOrders', file: TS_SERVICE, mappedFrom: b.entry });
        expect(f.line).toBeGreaterThanOrEqual(hot.first);
        expect(f.line).toBeLessThanOrEqual(hot.last);
        // Its function's start, mapped too: the TypeScript declaration's line (Frame.functionLine). A record
        // waits at most 2 s for its starts (the profiler's hold, test/agent/function-starts-worker.test.ts):
        // on a loaded machine a session's first records can come without them, as a second frame of the
        // same function. So the check is on the frames that carry a start: there is one, and it is mapped.
        const starts = new Set(t.frames.filter((x) => x.name === 'priceOrders' && x.file === TS_SERVICE && x.functionLine !== undefined).map((x) => x.functionLine));
        expect({ pod: b.pod, starts: [...starts] }).toEqual({ pod: b.pod, starts: [hot.first] });
        // No priceOrders frame is left pointing at compiled code.
        expect(t.frames.filter((x) => x.name === 'priceOrders' && x.file !== TS_SERVICE)).toEqual([]);
        expect(done.status.hotspots.some((h) => /^priceOrders .*server\.ts:\d+/.test(h.frame))).toBe(true);
      }
    } finally {
      stop.abort();
      await traffic;
    }
  }, 240_000);
});
