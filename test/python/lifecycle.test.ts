import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession, eventually, freePort, getJson, missingBuild, type OperatorProcess, sessionView, settledSession, sleep, startOperator, stopAll } from '../e2e/processes.js';
import { load, type PyApp, scratchVolume, startPythonApp, stopPythonApps } from './harness.js';

const skip = missingBuild();
const volume = skip ? undefined : scratchVolume();

interface StoredRequest {
  type: string;
  outcome: string;
  status?: number;
  pod: string;
}

const phase = async (op: OperatorProcess, id: string): Promise<string> => (await sessionView(op.url, id)).status.phase;

/** The edges: failing views, clients that leave, deadlines, an operator restart, the app's own sitecustomize, Flask, pre-fork workers. */
describe.skipIf(skip)('Python agent: lifecycle and edge cases', () => {
  let op: OperatorProcess;
  let port: number;
  let appPort: number;
  let edge: PyApp;

  beforeAll(async () => {
    port = await freePort();
    op = await startOperator(['--standalone', '--data', `${volume!.dir}/data`], {}, port);
    edge = await startPythonApp({ argv: ['django_app.py', 'waitress'], agentUrl: op.agentUrl, pythonPath: volume!.pythonPath, pod: 'edge-1', labels: 'app=edge' });
    appPort = edge.port;
    await (await fetch(`http://127.0.0.1:${appPort}/alpha/1`)).arrayBuffer();
  }, 60_000);

  afterAll(async () => {
    await stopPythonApps();
    await stopAll();
    volume?.remove();
  });

  it('records a view that raises as an error (Django answers 500) and a client that leaves mid-response as aborted', async () => {
    const boom = await createSession(op.url, { name: 'boom', spec: { selector: { matchLabels: { app: 'edge' } }, request: 'GET /boom', requests: 2, duration: '1m', sampleInterval: '5ms' } });
    const stream = await createSession(op.url, { name: 'stream', spec: { selector: { matchLabels: { app: 'edge' } }, request: 'GET /stream', requests: 1, duration: '1m', sampleInterval: '5ms' } });
    await eventually(async () => ((await getJson<{ items: { sessions: string[] }[] }>(`${op.url}/api/v1/agents`)).items[0]?.sessions.length === 2 ? true : undefined), 20_000, 'both sessions on the agent');
    for (let i = 0; i < 2; i++) expect((await fetch(`http://127.0.0.1:${appPort}/boom`)).status).toBe(500);
    const abort = new AbortController();
    const res = await fetch(`http://127.0.0.1:${appPort}/stream`, { signal: abort.signal });
    const reader = res.body!.getReader();
    await reader.read();
    abort.abort();
    await eventually(async () => ((await phase(op, boom.id)) === 'Completed' && (await phase(op, stream.id)) === 'Completed' ? true : undefined), 30_000, 'both Completed');
    const failed = await getJson<{ items: StoredRequest[] }>(`${op.url}/api/v1/sessions/${boom.id}/requests`);
    expect(failed.items.map((r) => r.status)).toEqual([500, 500]);
    const left = await getJson<{ items: StoredRequest[] }>(`${op.url}/api/v1/sessions/${stream.id}/requests`);
    expect(left.items.map((r) => r.outcome)).toEqual(['aborted']);
    // The catalogue (sent every 5 s when it changed) counts the failures as errors.
    await eventually(async () => {
      const types = await getJson<{ items: { type: string; errors: number }[] }>(`${op.url}/api/v1/request-types`);
      return (types.items.find((t) => t.type === 'GET /boom')?.errors ?? 0) >= 2 || undefined;
    }, 20_000, 'errors in the catalogue');
  }, 60_000);

  it('ends a session at its deadline when no matching request comes', async () => {
    const s = await createSession(op.url, { name: 'quiet', spec: { selector: { matchLabels: { app: 'edge' } }, request: 'GET /never', requests: 5, duration: '3s', sampleInterval: '10ms' } });
    // Nothing profiled is one outcome (ADR 0002): Failed, with the reason on the Complete condition.
    await eventually(async () => ((await phase(op, s.id)) === 'Failed' ? true : undefined), 20_000, 'Failed (nothing profiled) at the deadline');
    const v = await sessionView(op.url, s.id);
    expect(v.status.requestsProfiled).toBe(0);
    expect(v.status.conditions).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'Complete', status: 'True', reason: 'NothingProfiled' })]));
    // The agent ended it itself, at the deadline, and went dormant (its sampler stopped).
    await eventually(() => (new RegExp(`session ${s.id} ended: deadline`).test(edge.proc.out) ? true : undefined), 10_000, 'the agent ending the session');
  }, 30_000);

  it('keeps a session going across an operator restart and completes it', async () => {
    const stop = new AbortController();
    const traffic = load(appPort, ['/alpha/{i}'], stop.signal, 1, 150);
    try {
      const s = await createSession(op.url, { name: 'restart', spec: { selector: { matchLabels: { app: 'edge' } }, request: 'GET /alpha/:id', requests: 30, duration: '2m', sampleInterval: '10ms' } });
      await eventually(async () => ((await sessionView(op.url, s.id)).status.requestsProfiled >= 3 ? true : undefined), 30_000, 'a few requests in');
      await op.proc.stop('SIGKILL');
      await sleep(1500);
      op = await startOperator(['--standalone', '--data', `${volume!.dir}/data`], {}, port);
      await eventually(async () => ((await phase(op, s.id)) === 'Completed' ? true : undefined), 90_000, 'Completed after the restart');
      stop.abort();
      await traffic;
      const v = await settledSession(op.url, s.id);
      expect(v.status.requestsProfiled).toBeGreaterThanOrEqual(30);
    } finally {
      stop.abort();
      await traffic;
    }
  }, 150_000);

  it('runs the app\'s own sitecustomize after starting the agent', async () => {
    const appDir = join(volume!.dir, 'app-site');
    mkdirSync(appDir, { recursive: true });
    writeFileSync(join(appDir, 'sitecustomize.py'), 'import sys\nsys.stderr.write("the app\'s sitecustomize ran\\n")\nimport builtins\nbuiltins.APP_SITE = True\n');
    const app = await startPythonApp({ argv: ['flask_app.py'], agentUrl: op.agentUrl, pythonPath: `${volume!.pythonPath}:${appDir}`, pod: 'flask-1', labels: 'app=flask' });
    expect(app.proc.out).toContain("the app's sitecustomize ran");
    expect((await fetch(`http://127.0.0.1:${app.port}/items/7`)).status).toBe(200);
    await eventually(async () => {
      const types = await getJson<{ items: { type: string; workloads: string[] }[] }>(`${op.url}/api/v1/request-types`);
      return types.items.some((t) => t.type === 'GET /items/:item_id') || undefined;
    }, 20_000, 'the Flask route in the catalogue');
  }, 60_000);

  it('gunicorn with 2 pre-fork workers: each worker is its own agent, both are sampled and N is counted across them', async () => {
    const app = await startPythonApp({
      // No keep-alive: every request is a new connection, so both workers accept some.
      argv: ['gunicorn', '-w', '2', '-k', 'gthread', '--threads', '4', '--keep-alive', '0', '-b', '127.0.0.1:0', 'django_app:application'],
      agentUrl: op.agentUrl,
      pythonPath: volume!.pythonPath,
      pod: 'gunicorn-1',
      labels: 'app=gunicorn',
      portFrom: /Listening at: http:\/\/127\.0\.0\.1:(\d+)/,
    });
    const stop = new AbortController();
    const traffic = load(app.port, ['/alpha/{i}', '/beta/{i}'], stop.signal, 4);
    try {
      // The operator keeps one connection per agent process of a pod: both workers stay connected at once.
      await eventually(async () => {
        const agents = await getJson<{ items: { pod: { name: string } }[] }>(`${op.url}/api/v1/agents`);
        return agents.items.filter((a) => a.pod.name === 'gunicorn-1').length === 2 || undefined;
      }, 30_000, 'both gunicorn workers connected');
      const s = await createSession(op.url, { name: 'prefork', spec: { selector: { matchLabels: { app: 'gunicorn' } }, request: 'GET /alpha/:id', requests: 40, duration: '1m', sampleInterval: '5ms' } });
      await eventually(async () => ((await phase(op, s.id)) === 'Completed' ? true : undefined), 60_000, 'Completed');
      stop.abort();
      await traffic;
      const v = await settledSession(op.url, s.id);
      expect(v.status.requestsProfiled).toBeGreaterThanOrEqual(40);
      // The master serves no request and never dials; the workers dial after their fork, each with its own pid.
      const welcomed = new Set([...app.proc.out.matchAll(/pid=(\d+) welcomed/g)].map((m) => Number(m[1])));
      expect(welcomed.size).toBe(2);
      expect(welcomed.has(app.proc.child.pid!)).toBe(false);
      // One status row for the pod, summing both processes; N reached across them, not by either alone.
      expect(v.status.pods).toEqual([expect.objectContaining({ name: 'gunicorn-1', processes: 2, requests: v.status.requestsProfiled })]);
      const db = new Database(join(volume!.dir, 'data', 'sonde.db'), { readonly: true, fileMustExist: true });
      try {
        const byPid = db.prepare('SELECT agent_pid AS pid, COUNT(*) AS n FROM requests WHERE session = ? GROUP BY agent_pid').all(s.id) as { pid: number; n: number }[];
        expect(byPid.map((r) => r.pid).sort()).toEqual([...welcomed].sort());
        expect(byPid.every((r) => r.n > 0 && r.n < v.status.requestsProfiled)).toBe(true);
        expect(byPid.reduce((sum, r) => sum + r.n, 0)).toBe(v.status.requestsProfiled);
      } finally {
        db.close();
      }
      // No worker backed off from a 4008: this operator keeps both.
      expect(app.proc.out).not.toMatch(/this one waits/);
      expect(app.proc.out).not.toMatch(/Traceback/);
    } finally {
      stop.abort();
      await traffic;
    }
  }, 120_000);
});
