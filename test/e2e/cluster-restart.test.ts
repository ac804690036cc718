import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProfilingSessionStatus } from '../../src/session/types.js';
import { FakeKubeApiServer, PROFILING_SESSIONS, writeKubeconfig, type KubeObject } from '../fake-kube/index.js';
import { FakeAgent, fakeRequest } from '../harness/fake-agent.js';
import { type AppProcess, type OperatorProcess, WORK_TYPE, drive, eventually, freePort, missingBuild, sleep, startApp, startOperator, stopAll } from './processes.js';

/**
 * "No completed request is lost" (ADR 0002), measured the way the issue measured the loss: a real
 * operator process in cluster mode against the fake API server, real apps with the injected agent, and
 * the operator killed (SIGKILL) across a session's end, then restarted on the same port and data. The
 * ground truth is what each agent says it profiled when its session ended (its `session ended` log
 * line): every one of those requests must be stored, and the object's final status written.
 */
const missing = missingBuild();
const NS = 'shop';
let fake: FakeKubeApiServer;
let dir: string;
let kubeconfig: string;
let port: number;
let op: OperatorProcess;
let apps: AppProcess[] = [];
const pods: { name: string; uid: string; token: string }[] = [];

const crStatus = (name: string): ProfilingSessionStatus | undefined =>
  (fake.store.get(PROFILING_SESSIONS, NS, name) as (KubeObject & { status?: ProfilingSessionStatus }) | undefined)?.status;
const uidOf = (name: string): string => fake.store.get(PROFILING_SESSIONS, NS, name)!.metadata.uid as string;
const boot = async (): Promise<OperatorProcess> => startOperator(['--data', join(dir, 'data')], { KUBECONFIG: kubeconfig }, port);

/** What each agent says it profiled for a session, from its `session ended` log line; undefined until every agent ended it. */
function endedCounts(session: string): number[] | undefined {
  const counts = apps.map((a) => a.proc.jsonLines().find((l) => l.msg === 'session ended' && l.session === session)?.requests as number | undefined);
  return counts.every((c) => c !== undefined) ? (counts as number[]) : undefined;
}

beforeAll(async () => {
  if (missing) return;
  dir = mkdtempSync(join(tmpdir(), 'sonde-e2e-restart-'));
  fake = await FakeKubeApiServer.start();
  kubeconfig = writeKubeconfig(dir, fake);
  port = await freePort();
  for (const i of [0, 1, 2]) {
    const name = `work-5c8d7f9b4-r${i}x7q`;
    const pod = fake.addPod({ name, namespace: NS, labels: { app: 'e2e' } });
    const uid = pod.metadata.uid as string;
    pods.push({ name, uid, token: fake.tokens.issuePodToken({ name, namespace: NS, uid }) });
  }
  op = await boot();
  await eventually(async () => (await fetch(`${op.url}/readyz`)).ok || undefined, 30_000, 'operator ready');
  apps = await Promise.all(
    pods.map((p, i) => {
      const tokenFile = join(dir, `${p.name}.token`);
      writeFileSync(tokenFile, p.token);
      return startApp({ agentUrl: op.agentUrl, pod: p.name, namespace: NS, uid: p.uid, hot: (['alpha', 'beta', 'gamma'] as const)[i]!, tokenFile, labels: '', logLevel: 'info' });
    }),
  );
}, 120_000);

afterAll(async () => {
  await stopAll();
  await fake?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(missing)('operator killed across a session end and restarted (cluster mode, real agents)', () => {
  it('deadline passed while the operator was down: every request the agents profiled is stored, the object shows Completed', async () => {
    fake.createSession(NS, 'deadline', { selector: { matchLabels: { app: 'e2e' } }, request: WORK_TYPE, requests: 10_000, duration: '14s', sampleInterval: '5ms' });
    const id = uidOf('deadline');
    const stop = new AbortController();
    const traffic = drive(apps, stop.signal, 20);
    try {
      await eventually(() => ((crStatus('deadline')?.requestsProfiled ?? 0) > 0 && crStatus('deadline')?.pods.length === 3 ? true : undefined), 30_000, 'requests stored before the kill');
      await op.proc.stop('SIGKILL');
      const killedAt = Date.now();
      // The agents run into the deadline on their own while the operator is down, holding what they profiled.
      const counts = await eventually(() => endedCounts(id), 40_000, 'every agent ended the session');
      await sleep(Math.max(0, 20_000 - (Date.now() - killedAt))); // down 20 s, as measured in the issue
      stop.abort();
      await traffic;
      const restartedAt = Date.now();
      op = await boot();
      // The agents' backoff stays short while the operator restarts (it reached 15–22 s before).
      const back = await eventually(() => (op.proc.jsonLines().filter((l) => l.msg === 'agent connected').length >= 3 ? Date.now() - restartedAt : undefined), 30_000, 'three agents back');
      expect(back).toBeLessThan(10_000);
      const profiled = counts.reduce((a, b) => a + b, 0);
      const status = await eventually(() => {
        const s = crStatus('deadline');
        return s?.phase === 'Completed' && s.requestsProfiled === profiled && s.pods.every((p) => p.state === 'Done') ? s : undefined;
      }, 60_000, `CR status Completed with all ${profiled} requests and every pod Done`).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}; the object shows ${JSON.stringify(crStatus('deadline'))}`);
      });
      expect(status.conditions.find((c) => c.type === 'Complete')).toMatchObject({ status: 'True', reason: 'DeadlineExceeded' });
      expect(status.conditions.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False' });
      expect(status.pods.map((p) => p.requests).sort()).toEqual([...counts].sort());
      // The figure for docs/BENCHMARKS.md.
      console.log(`[restart across deadline] profiled by agents: ${profiled}, stored: ${status.requestsProfiled}, lost: ${profiled - status.requestsProfiled}; all agents back ${back} ms after the restart began`);
    } finally {
      stop.abort();
      await traffic;
    }
  }, 180_000);

  it('N reached while the operator was down: the session completes, and a pod that comes back after that still delivers every request', async () => {
    // Three pods take 10 each while the operator is down; the first two back complete N = 20, the third
    // comes back to a finished session (the issue's "49 requests lost when it reconnected 15 s later").
    fake.createSession(NS, 'quota', { selector: { matchLabels: { app: 'e2e' } }, request: WORK_TYPE, requests: 20, maxRequestsPerPod: 10, duration: '3m', sampleInterval: '5ms' });
    const id = uidOf('quota');
    await eventually(() => (crStatus('quota')?.pods.filter((p) => p.state === 'Sampling').length === 3 ? true : undefined), 30_000, 'three agents started');
    await op.proc.stop('SIGKILL');
    const stop = new AbortController();
    const traffic = drive(apps, stop.signal, 20);
    let counts: number[];
    try {
      counts = await eventually(() => endedCounts(id), 60_000, 'every agent reached its cap');
    } finally {
      stop.abort();
      await traffic;
    }
    await sleep(10_000);
    op = await boot();
    const status = await eventually(() => {
      const s = crStatus('quota');
      return s?.phase === 'Completed' && s.requestsProfiled === 30 && s.pods.every((p) => p.state === 'Done') ? s : undefined;
    }, 60_000, 'CR status Completed with all 30 requests the agents took, every pod Done').catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; the object shows ${JSON.stringify(crStatus('quota'))}`);
    });
    expect(counts).toEqual([10, 10, 10]);
    expect(status.conditions.find((c) => c.type === 'Complete')).toMatchObject({ status: 'True', reason: 'RequestsReached' });
    expect(status.progress).toBe('30/20');
    console.log(`[restart across N] profiled by agents: 30, stored: ${status.requestsProfiled}, lost: ${30 - status.requestsProfiled}`);
  }, 180_000);

  it('a pod of another namespace with the same name and a genuine token cannot write into the session', async () => {
    const victim = pods[0]!;
    const evilPod = fake.addPod({ name: victim.name, namespace: 'evil', labels: { app: 'e2e' } });
    const evil = { name: victim.name, namespace: 'evil', uid: evilPod.metadata.uid as string };
    fake.createSession(NS, 'guarded', { selector: { matchLabels: { app: 'e2e' } }, request: WORK_TYPE, requests: 10_000, duration: '1m', sampleInterval: '5ms' });
    const id = uidOf('guarded');
    await eventually(() => (crStatus('guarded')?.pods.length === 3 ? true : undefined), 30_000, 'three agents started');
    const before = crStatus('guarded')!.requestsProfiled;
    // A TokenReview-checked token of evil/<same name>, claiming the session it must not touch.
    const intruder = await FakeAgent.connect({ url: op.agentUrl, token: fake.tokens.issuePodToken(evil), pod: evil, sessions: [{ session: id, requests: 0 }], ended: [id], acks: true, pid: 1 });
    intruder.report(id, Array.from({ length: 50 }, (_, i) => fakeRequest(WORK_TYPE, { id: `evil-${i}` })), 1_000_000_000);
    intruder.progress(id, 0, 0, 100_000);
    intruder.ended(id, 'requests', 100_000);
    await intruder.waitFor((m) => m.type === 'ack' && m.session === id);
    await sleep(1500);
    const after = crStatus('guarded')!;
    expect(after.phase).toBe('Running');
    expect(after.requestsProfiled).toBe(before);
    expect(after.pods.map((p) => p.name).sort()).toEqual(pods.map((p) => p.name).sort());
    expect(after.pods.every((p) => p.state === 'Sampling')).toBe(true);
    await intruder.close();
  }, 120_000);
});
