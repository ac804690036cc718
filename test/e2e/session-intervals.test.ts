import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { afterAll, describe, expect, it } from 'vitest';
import { deserializeTree, type SerializedTree } from '../../src/model/serialized.js';
import { WORK_TYPE, createSession, drive, eventually, getJson, missingBuild, sessionView, settledSession, startApp, startOperator, stopAll, waitForAgents } from './processes.js';

const missing = missingBuild();
const dirs: string[] = [];

afterAll(async () => {
  await stopAll();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * Issue 14: a 2 ms session started while a 10 ms one runs on the same pod. Each must get samples at its
 * own rate (against the requests' time), say the interval it used, and export that period.
 */
describe.skipIf(missing)('two sessions at different intervals on the same pod', () => {
  it('gives each its own interval: samples per request time, status.sampleInterval and the pprof period agree', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sonde-e2e-'));
    dirs.push(dir);
    const op = await startOperator(['--standalone', '--auth', 'none', '--data', join(dir, 'data')]);
    const app = await startApp({ agentUrl: op.agentUrl, pod: 'iv-0', hot: 'alpha', labels: 'app=iv', work: 3_000_000 });
    const stop = new AbortController();
    const traffic = drive([app], stop.signal);
    try {
      await waitForAgents(op.url, 1, WORK_TYPE);
      const spec = (sampleInterval: string) => ({ selector: { matchLabels: { app: 'iv' } }, request: WORK_TYPE, requests: 30, duration: '2m', sampleInterval });
      const coarse = await createSession(op.url, { name: 'coarse', spec: spec('10ms') });
      await eventually(async () => ((await sessionView(op.url, coarse.id)).status.phase === 'Running' ? true : undefined), 20_000, 'coarse Running');
      const fine = await createSession(op.url, { name: 'fine', spec: spec('2ms') });
      for (const s of [coarse, fine]) await eventually(async () => ((await sessionView(op.url, s.id)).status.phase === 'Completed' ? true : undefined), 90_000, `${s.name} Completed`);
      stop.abort();
      await traffic;

      const seen: Record<string, { msPerSample: number; wallPerSampleUs: number; periodNs: number; status?: string }> = {};
      for (const s of [coarse, fine]) {
        const done = await settledSession(op.url, s.id);
        const requests = await getJson<{ items: { durationMs: number }[] }>(`${op.url}/api/v1/sessions/${s.id}/requests`);
        const durationMs = requests.items.reduce((n, r) => n + r.durationMs, 0);
        const tree = deserializeTree((await getJson<{ tree: SerializedTree }>(`${op.url}/api/v1/sessions/${s.id}/tree`)).tree);
        const res = await fetch(`${op.url}/api/v1/sessions/${s.id}/tree?format=pprof`);
        expect(res.status).toBe(200);
        let bytes = new Uint8Array(await res.arrayBuffer());
        if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
        seen[s.spec.sampleInterval] = {
          msPerSample: durationMs / tree.totals.samples,
          wallPerSampleUs: tree.totals.wallUs / tree.totals.samples,
          periodNs: Number(Profile.decode(bytes).period),
          status: done.status.sampleInterval,
        };
      }
      const why = JSON.stringify(seen);
      for (const [asked, ms] of [['10ms', 10], ['2ms', 2]] as const) {
        expect(seen[asked]!.status, why).toBe(asked);
        expect(seen[asked]!.wallPerSampleUs, why).toBeCloseTo(ms * 1000, 0);
        expect(seen[asked]!.periodNs, why).toBe(ms * 1_000_000);
      }
      // Samples at each session's own rate: one per 10 ms of request time (late ticks under load make
      // fewer, never more), and clearly finer for the 2 ms one.
      expect(seen['10ms']!.msPerSample, why).toBeGreaterThan(8);
      expect(seen['10ms']!.msPerSample, why).toBeLessThan(30);
      expect(seen['2ms']!.msPerSample, why).toBeGreaterThan(1.6);
      expect(seen['2ms']!.msPerSample, why).toBeLessThan(seen['10ms']!.msPerSample / 2);
    } finally {
      stop.abort();
      await traffic;
      await stopAll();
    }
  }, 180_000);
});
