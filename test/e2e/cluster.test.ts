import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeKubeApiServer, PROFILING_SESSIONS, writeKubeconfig, type KubeObject } from '../fake-kube/index.js';
import { FakeAgent } from '../harness/fake-agent.js';
import type { ProfilingSessionStatus } from '../../src/session/types.js';
import { type AppProcess, type OperatorProcess, WORK_TYPE, drive, eventually, getJson, missingBuild, startApp, startOperator, stopAll } from './processes.js';

const missing = missingBuild();
const NS = 'shop';
let fake: FakeKubeApiServer;
let dir: string;
let op: OperatorProcess;
const pods: { name: string; uid: string; hot: 'alpha' | 'beta' | 'gamma'; token: string }[] = [];

function crStatus(name: string): ProfilingSessionStatus | undefined {
  return (fake.store.get(PROFILING_SESSIONS, NS, name) as (KubeObject & { status?: ProfilingSessionStatus }) | undefined)?.status;
}

beforeAll(async () => {
  if (missing) return;
  dir = mkdtempSync(join(tmpdir(), 'sonde-e2e-cluster-'));
  fake = await FakeKubeApiServer.start();
  const kubeconfig = writeKubeconfig(dir, fake);
  for (const [i, hot] of (['alpha', 'beta', 'gamma'] as const).entries()) {
    const name = `work-7d9f8b6c5-x${i}x9z`;
    const pod = fake.addPod({ name, namespace: NS, labels: { app: 'e2e' } });
    const uid = pod.metadata.uid as string;
    pods.push({ name, uid, hot, token: fake.tokens.issuePodToken({ name, namespace: NS, uid }) });
  }
  // Cluster mode, limited to one namespace, with the kubeconfig a real deployment would mount.
  op = await startOperator(['--namespace', NS, '--auth', 'none', '--data', join(dir, 'data')], { KUBECONFIG: kubeconfig });
  await eventually(async () => (await fetch(`${op.url}/readyz`)).ok || undefined, 30_000, 'operator ready (informers synced)');
});

afterAll(async () => {
  await stopAll();
  await fake?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(missing)('cluster mode against the fake API server', () => {
  it('agents authenticate by TokenReview; a ProfilingSession CR completes with counts and hotspots in its status', async () => {
    const apps: AppProcess[] = [];
    for (const p of pods) {
      // The projected token as a file, re-read on every dial, as in a pod.
      const tokenFile = join(dir, `${p.name}.token`);
      writeFileSync(tokenFile, p.token);
      apps.push(await startApp({ agentUrl: op.agentUrl, pod: p.name, namespace: NS, uid: p.uid, hot: p.hot, tokenFile, labels: '' }));
    }
    const stop = new AbortController();
    const traffic = drive(apps, stop.signal);
    try {
      await eventually(async () => {
        const agents = await getJson<{ items: { pod: { name: string }; labels: Record<string, string> }[] }>(`${op.url}/api/v1/agents`);
        // Labels come from the pod informer, not from the agent (which announced none).
        return agents.items.length === 3 && agents.items.every((a) => a.labels.app === 'e2e') ? true : undefined;
      }, 30_000, 'three agents bound to their pods');

      const N = 24;
      fake.createSession(NS, 'work', { selector: { matchLabels: { app: 'e2e' } }, request: WORK_TYPE, requests: N, duration: '2m', sampleInterval: '5ms' });
      const status = await eventually(() => {
        const s = crStatus('work');
        return s?.phase === 'Completed' ? s : undefined;
      }, 60_000, 'CR status Completed');

      expect(status.requestsProfiled).toBeGreaterThanOrEqual(N);
      expect(status.progress).toBe(`${status.requestsProfiled}/${N}`);
      expect(status.pods.map((p) => p.name).sort()).toEqual(pods.map((p) => p.name).sort());
      expect(status.pods.reduce((s, p) => s + p.requests, 0)).toBe(status.requestsProfiled);
      expect(status.hotspots.length).toBeGreaterThan(0);
      expect(status.hotspots.some((h) => /(alpha|beta|gamma)HotLoop/.test(h.frame))).toBe(true);
      expect(status.resultURL).toMatch(new RegExp(`^${op.url}/#/sessions/`));
      expect(status.conditions.find((c) => c.type === 'Complete')?.reason).toBe('RequestsReached');

      // The API shows the CR-born session in the same shape; writes are refused in a cluster.
      // (Requests in flight at N are still kept after the CR said Completed, so the count may grow.)
      const sessions = await getJson<{ items: { name: string; source: string; status: { requestsProfiled: number } }[] }>(`${op.url}/api/v1/sessions`);
      const listed = sessions.items.find((s) => s.name === 'work')!;
      expect(listed.source).toBe('kubernetes');
      expect(listed.status.requestsProfiled).toBeGreaterThanOrEqual(status.requestsProfiled);
      const post = await fetch(`${op.url}/api/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"x","spec":{"request":"GET /"}}' });
      expect(post.status).toBe(405);
      // Events were recorded for the session.
      const events = fake.store.list({ group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true } as never, NS);
      expect(events.length).toBeGreaterThan(0);
    } finally {
      stop.abort();
      await traffic;
      for (const a of apps) await a.proc.stop();
    }
  });

  it('refuses a forged pod identity and a missing token, losing nothing already stored', async () => {
    const view = (): Promise<{ status: { requestsProfiled: number } }> => getJson(`${op.url}/api/v1/sessions/${encodeURIComponent(`${NS}/work`)}`);
    const before = (await view()).status;
    const [a, b] = pods;
    // A's token, claiming to be B.
    const forged = await FakeAgent.open({ url: op.agentUrl, token: a!.token, pod: { name: b!.name, namespace: NS, uid: b!.uid } });
    expect((await forged.closed).code).toBe(4004);
    // No token at all is refused at the upgrade (401), before a socket or a TokenReview exists.
    await expect(FakeAgent.open({ url: op.agentUrl, pod: { name: a!.name, namespace: NS, uid: a!.uid } })).rejects.toThrow(/upgrade refused: 401/);
    // The right token for the right pod is accepted.
    const honest = await FakeAgent.connect({ url: op.agentUrl, token: a!.token, pod: { name: a!.name, namespace: NS, uid: a!.uid } });
    expect(honest.welcome).toBeDefined();
    await honest.close();
    const metrics = await (await fetch(`${op.url}/metrics`)).text();
    expect(metrics).toMatch(/^sonde_agent_errors_total\{code="SONDE_FORGED_IDENTITY"\} [1-9]/m);
    expect((await view()).status.requestsProfiled).toBe(before.requestsProfiled);
    await eventually(() => (crStatus('work')?.requestsProfiled === before.requestsProfiled ? true : undefined), 10_000, 'CR status has every stored request');
    const stored = await getJson<{ items: unknown[] }>(`${op.url}/api/v1/sessions/${encodeURIComponent(`${NS}/work`)}/requests`);
    expect(stored.items).toHaveLength(before.requestsProfiled);
  });
});
