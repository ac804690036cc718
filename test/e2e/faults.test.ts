import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionView } from '../../src/session/types.js';
import { FakeAgent, fakeRequest } from '../harness/fake-agent.js';
import { type AppProcess, type OperatorProcess, WORK_TYPE, createSession, drive, eventually, getJson, missingBuild, sessionView, settledSession, sleep, startApp, startOperator, stopAll } from './processes.js';

const missing = missingBuild();
let dir: string;
let op: OperatorProcess;
let apps: AppProcess[] = [];
const args = (): string[] => ['--standalone', '--data', join(dir, 'data')];

/** Stored requests of a session, optionally of one pod: the ground truth for "nothing lost". */
async function stored(id: string, pod?: string): Promise<{ id: string; pod: string }[]> {
  return (await getJson<{ items: { id: string; pod: string }[] }>(`${op.url}/api/v1/sessions/${id}/requests${pod ? `?pod=${pod}` : ''}`)).items;
}

/** Drives `targets` until `cond` holds, then stops the traffic and lets the agents' last batches land. */
async function driveUntil<T>(targets: AppProcess[], cond: () => Promise<T | undefined>, what: string, pauseMs = 5): Promise<T> {
  const stop = new AbortController();
  const traffic = drive(targets, stop.signal, pauseMs);
  try {
    return await eventually(cond, 60_000, what);
  } finally {
    stop.abort();
    await traffic;
  }
}

beforeAll(async () => {
  if (missing) return;
  dir = mkdtempSync(join(tmpdir(), 'sonde-e2e-faults-'));
  op = await startOperator(args());
  apps = await Promise.all((['alpha', 'beta', 'gamma'] as const).map((hot, i) => startApp({ agentUrl: op.agentUrl, pod: `fault-${hot}-${i}`, hot })));
  await driveUntil(apps, async () => {
    const types = await getJson<{ items: { type: string; pods: number }[] }>(`${op.url}/api/v1/request-types`);
    return types.items.find((t) => t.type === WORK_TYPE && t.pods === 3);
  }, 'three agents with the work type in their catalogue');
});

afterAll(async () => {
  await stopAll();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(missing)('faults against a running operator, with real agent processes', () => {
  let session: SessionView;

  it('keeps a killed agent\'s finished requests and marks its pod Lost; the others finish the session', async () => {
    // A per-pod cap and slow traffic to the victim, so it is still sampling when it dies.
    session = await createSession(op.url, { name: 'faults', spec: { selector: { matchLabels: { app: 'e2e' } }, request: WORK_TYPE, requests: 60, maxRequestsPerPod: 40, duration: '5m', sampleInterval: '5ms' } });
    const [victim, ...others] = apps as [AppProcess, ...AppProcess[]];
    const before = await driveUntil([victim], async () => {
      const mine = await stored(session.id, victim.pod);
      return mine.length >= 3 ? mine : undefined;
    }, 'the victim pod to report requests', 150);
    await victim.proc.stop('SIGKILL');
    const lost = await eventually(async () => {
      const v = await sessionView(op.url, session.id);
      return v.status.pods.find((p) => p.name === victim.pod && p.state === 'Lost') ? v : undefined;
    }, 30_000, 'victim pod Lost');
    expect(lost.status.phase).toBe('Running');
    const kept = await stored(session.id, victim.pod);
    expect(kept.length).toBeGreaterThanOrEqual(before.length);
    expect(kept.map((r) => r.id)).toEqual(expect.arrayContaining(before.map((r) => r.id)));

    const done = await driveUntil(others, async () => {
      const v = await sessionView(op.url, session.id);
      return v.status.phase === 'Completed' ? v : undefined;
    }, 'session Completed by the remaining pods');
    expect(done.status.requestsProfiled).toBeGreaterThanOrEqual(60);
    expect(done.status.pods.find((p) => p.name === victim.pod)).toMatchObject({ state: 'Lost', requests: kept.length });
    expect(await stored(session.id, victim.pod)).toHaveLength(kept.length);
    await eventually(async () => ((await stored(session.id)).length === (await sessionView(op.url, session.id)).status.requestsProfiled ? true : undefined), 15_000, 'status and store to agree');
  });

  it('survives malformed, oversized, out-of-order and hello-less agent messages, losing nothing', async () => {
    // Late requests of the first test (taken before the stop) must not be counted as the rogues' doing.
    const count = (await settledSession(op.url, session.id)).status.requestsProfiled;
    const pod = (name: string) => ({ name, namespace: 'default', uid: '' });

    const malformed = await FakeAgent.connect({ url: op.agentUrl, pod: pod('rogue-1') });
    malformed.sendRaw('{"type":"requests", this is not json');
    expect((await malformed.closed).code).toBe(4001);

    const oversized = await FakeAgent.connect({ url: op.agentUrl, pod: pod('rogue-2') });
    oversized.sendRaw('x'.repeat(9 * 1024 * 1024));
    expect((await oversized.closed).code).toBe(1009);

    // Requests for a session this connection was never started on: refused, nothing stored.
    const outOfOrder = await FakeAgent.connect({ url: op.agentUrl, pod: pod('rogue-3') });
    outOfOrder.report(session.id, [fakeRequest(WORK_TYPE, { hot: 'injected' })]);
    expect((await outOfOrder.closed).code).toBe(4007);

    const noHello = await FakeAgent.open({ url: op.agentUrl, pod: pod('rogue-4'), hello: false });
    noHello.progress(session.id, 1, 1);
    expect((await noHello.closed).code).toBe(4005);

    // A schema-invalid message (a negative count) is refused as malformed too.
    const invalid = await FakeAgent.connect({ url: op.agentUrl, pod: pod('rogue-5') });
    invalid.send({ type: 'catalogue', entries: [{ type: 'GET /x', count: -1, errors: 0, p50Ms: 1, p90Ms: 1, p99Ms: 1 }] });
    expect((await invalid.closed).code).toBe(4001);

    const after = await stored(session.id);
    expect(after).toHaveLength(count);
    const names = (await getJson<{ items: { pod: { name: string } }[] }>(`${op.url}/api/v1/agents`)).items.map((a) => a.pod.name);
    expect(names.sort()).toEqual(apps.slice(1).map((a) => a.pod).sort());
    expect((await fetch(`${op.url}/healthz`)).ok).toBe(true);
    const metrics = await (await fetch(`${op.url}/metrics`)).text();
    for (const code of ['SONDE_BAD_MESSAGE', 'SONDE_TREE_TOO_LARGE', 'SONDE_OUT_OF_ORDER', 'SONDE_HELLO_REQUIRED']) expect(metrics).toMatch(new RegExp(`^sonde_agent_errors_total\\{code="${code}"\\} [1-9]`, 'm'));
  });

  it('an operator killed mid-session restarts with every completed request, and the session resumes to completion', async () => {
    const live = apps.slice(1);
    const running = await createSession(op.url, { name: 'restart', spec: { selector: { matchLabels: { app: 'e2e' } }, request: WORK_TYPE, requests: 80, duration: '5m', sampleInterval: '5ms' } });
    await driveUntil(live, async () => ((await stored(running.id)).length >= 3 ? true : undefined), 'requests before the crash', 150);
    await sleep(1200); // the agents' last batches land
    const before = await stored(running.id);
    const beforeView = await sessionView(op.url, running.id);
    expect(beforeView.status.phase).toBe('Running');

    await op.proc.stop('SIGKILL');
    op = await startOperator(args(), {}, op.port);
    // Everything stored before the crash is there at once.
    const afterRestart = await stored(running.id);
    expect(afterRestart.map((r) => r.id)).toEqual(expect.arrayContaining(before.map((r) => r.id)));
    const earlier = await stored(session.id);
    expect(earlier.length).toBeGreaterThanOrEqual(60);

    // The agents reconnect on their own (backoff) and the session goes on.
    await eventually(async () => ((await getJson<{ items: unknown[] }>(`${op.url}/api/v1/agents`)).items.length === 2 ? true : undefined), 30_000, 'agents reconnected');
    const done = await driveUntil(live, async () => {
      const v = await sessionView(op.url, running.id);
      return v.status.phase === 'Completed' || v.status.phase === 'Failed' ? v : undefined;
    }, 'the resumed session to end');
    expect(done.status.phase).toBe('Completed');
    expect(done.status.conditions.find((c) => c.type === 'Complete')?.reason).toBe('RequestsReached');
    expect(done.status.requestsProfiled).toBeGreaterThanOrEqual(80);
    // Requests in flight at N still land after Completed; once they have, status and store agree.
    const final = await eventually(async () => {
      const [rows, view] = [await stored(running.id), await sessionView(op.url, running.id)];
      return rows.length === view.status.requestsProfiled ? rows : undefined;
    }, 15_000, 'status and store to agree');
    expect(final.map((r) => r.id)).toEqual(expect.arrayContaining(before.map((r) => r.id)));
  });

  it('shuts down gracefully on SIGTERM', async () => {
    const code = await op.proc.stop('SIGTERM', 15_000);
    expect(code).toBe(0);
    expect(op.proc.out).toMatch(/operator shutting down/);
  });
});
