import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deserializeTree, type SerializedTree } from '../../src/model/serialized.js';
import { type AppProcess, WORK_TYPE, createSession, drive, eventually, getJson, missingBuild, sessionView, settledSession, startApp, startOperator, stopAll, waitForAgents } from './processes.js';

const missing = missingBuild();
/**
 * Iterations of each app's hot loop per request: ~10-25 ms, several 5 ms samples per request. At the
 * fixture's default (~1-2 ms) a pod that served only a few of the N requests could, by chance, have
 * no sample in its hot function at all (CI saw betaHotLoop missing once).
 */
const HOT_WORK = 3_000_000;
const dirs: string[] = [];

afterAll(async () => {
  await stopAll();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * Standalone, end to end with real processes: the operator, three app processes with the agent
 * (`--import`), each with its own hot function; a session over all three; N requests across pods.
 */
describe.skipIf(missing)('standalone operator with three agent processes', () => {
  it('profiles N requests across the pods, completes with the right counts, and the merged tree holds every app\'s hot function', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sonde-e2e-'));
    dirs.push(dir);
    const token = 'e2e-shared-token';
    const op = await startOperator(['--standalone', '--auth', 'none', '--data', join(dir, 'data')], { SONDE_TOKEN: token });
    const hots = ['alpha', 'beta', 'gamma'] as const;
    const apps: AppProcess[] = await Promise.all(hots.map((hot, i) => startApp({ agentUrl: op.agentUrl, pod: `e2e-${hot}-${i}`, hot, token, labels: `app=e2e,workload=e2e-${hot}`, work: HOT_WORK })));
    const stop = new AbortController();
    const traffic = drive(apps, stop.signal);
    try {
      await waitForAgents(op.url, 3, WORK_TYPE);
      const N = 30;
      const created = await createSession(op.url, { name: 'work', spec: { selector: { matchLabels: { app: 'e2e' } }, request: WORK_TYPE, requests: N, duration: '2m', sampleInterval: '5ms' } });
      await eventually(async () => ((await sessionView(op.url, created.id)).status.phase === 'Completed' ? true : undefined), 60_000, 'session Completed');
      stop.abort();
      await traffic;
      // Requests in flight at N still land after Completed; once they have, status and store agree.
      const done = await settledSession(op.url, created.id);

      // N across pods: at least N, in-flight requests kept (so possibly a few more), every pod took part.
      expect(done.status.requestsProfiled).toBeGreaterThanOrEqual(N);
      expect(done.status.conditions.find((c) => c.type === 'Complete')?.reason).toBe('RequestsReached');
      expect(done.status.pods.map((p) => p.name).sort()).toEqual(apps.map((a) => a.pod).sort());
      const perPod = done.status.pods.reduce((s, p) => s + p.requests, 0);
      expect(perPod).toBe(done.status.requestsProfiled);

      // Every request the status counts is stored, and the counts agree per pod.
      const requests = await getJson<{ items: { pod: string; type: string }[] }>(`${op.url}/api/v1/sessions/${created.id}/requests`);
      expect(requests.items).toHaveLength(done.status.requestsProfiled);
      expect(requests.items.every((r) => r.type === WORK_TYPE)).toBe(true);
      for (const pod of done.status.pods) expect(requests.items.filter((r) => r.pod === pod.name)).toHaveLength(pod.requests);

      // The merged tree holds each app's hot function; one pod's tree holds only its own.
      const tree = await getJson<{ tree: SerializedTree; requests: number }>(`${op.url}/api/v1/sessions/${created.id}/tree`);
      expect(tree.requests).toBe(done.status.requestsProfiled);
      const names = deserializeTree(tree.tree).frames.map((f) => f.name);
      expect(names).toEqual(expect.arrayContaining(['alphaHotLoop', 'betaHotLoop', 'gammaHotLoop']));
      const alpha = await getJson<{ tree: SerializedTree }>(`${op.url}/api/v1/sessions/${created.id}/tree?pod=e2e-alpha-0`);
      const alphaNames = deserializeTree(alpha.tree).frames.map((f) => f.name);
      expect(alphaNames).toContain('alphaHotLoop');
      expect(alphaNames).not.toContain('betaHotLoop');
      expect(done.status.hotspots.some((h) => /(alpha|beta|gamma)HotLoop/.test(h.frame))).toBe(true);
    } finally {
      stop.abort();
      await traffic;
      await stopAll();
    }
  });

  it('refuses an agent with a wrong token, and keeps serving the others', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sonde-e2e-'));
    dirs.push(dir);
    const op = await startOperator(['--standalone', '--auth', 'none', '--data', join(dir, 'data')], { SONDE_TOKEN: 'right-token-123' });
    const good = await startApp({ agentUrl: op.agentUrl, pod: 'good-0', hot: 'alpha', token: 'right-token-123' });
    const bad = await startApp({ agentUrl: op.agentUrl, pod: 'bad-0', hot: 'beta', token: 'wrong-token-123' });
    try {
      await waitForAgents(op.url, 1);
      await eventually(() => (/SONDE_UNAUTHENTICATED/.test(op.proc.out) ? true : undefined), 15_000, 'refusal logged');
      const agents = await getJson<{ items: { pod: { name: string } }[] }>(`${op.url}/api/v1/agents`);
      expect(agents.items.map((a) => a.pod.name)).toEqual(['good-0']);
      // The refused agent's app runs on regardless.
      expect((await fetch(`http://127.0.0.1:${bad.port}/other`)).status).toBe(200);
      expect(good.proc.running).toBe(true);
    } finally {
      await stopAll();
    }
  });
});
