import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession, eventually, getJson, missingBuild, type OperatorProcess, sessionView, settledSession, startOperator, stopAll } from '../e2e/processes.js';
import { attribution, load, type PyApp, scratchVolume, sessionTree, stacks, startPythonApp, stopPythonApps } from './harness.js';

const skip = missingBuild();
const volume = skip ? undefined : scratchVolume();

/**
 * FastAPI under uvicorn, agent injected as the webhook injects it: requests of both types interleave on
 * the one event loop at every `await`; each sample goes to the request whose task is running, and a
 * request's awaiting shows as waiting.
 */
describe.skipIf(skip)('Python agent: FastAPI (ASGI, uvicorn)', () => {
  let op: OperatorProcess;
  let app: PyApp;

  beforeAll(async () => {
    op = await startOperator(['--standalone', '--data', `${volume!.dir}/data`]);
    app = await startPythonApp({ argv: ['fastapi_app.py'], agentUrl: op.agentUrl, pythonPath: volume!.pythonPath, pod: 'fastapi-1', labels: 'app=fastapi' });
  }, 60_000);

  afterAll(async () => {
    await stopPythonApps();
    await stopAll();
    volume?.remove();
  });

  it('reports request types by route template in the catalogue', async () => {
    for (const p of ['/alpha/1', '/beta/2', '/alpha/3']) await (await fetch(`http://127.0.0.1:${app.port}${p}`)).arrayBuffer();
    await eventually(async () => {
      const types = await getJson<{ items: { type: string; count: number }[] }>(`${op.url}/api/v1/request-types`);
      const alpha = types.items.find((t) => t.type === 'GET /alpha/:id');
      return alpha && alpha.count >= 2 && types.items.some((t) => t.type === 'GET /beta/:id') ? true : undefined;
    }, 20_000, 'the catalogue');
  }, 30_000);

  it('attributes ≥ 98% of a type\'s code samples to its own view under concurrent mixed load', async () => {
    const stop = new AbortController();
    const traffic = load(app.port, ['/alpha/{i}', '/beta/{i}'], stop.signal, 4);
    try {
      const created = await createSession(op.url, { name: 'alpha', spec: { selector: { matchLabels: { app: 'fastapi' } }, request: 'GET /alpha/:id', requests: 60, duration: '2m', sampleInterval: '2ms' } });
      await eventually(async () => ((await sessionView(op.url, created.id)).status.phase === 'Completed' ? true : undefined), 90_000, 'session Completed');
      stop.abort();
      await traffic;
      const view = await settledSession(op.url, created.id);
      expect(view.status.requestsProfiled).toBeGreaterThanOrEqual(60);
      const tree = await sessionTree(op.url, created.id);
      const a = attribution(tree, 'alpha', 'beta_hot', ['alpha', 'beta']);
      console.info('fastapi attribution', a);
      expect(a.inViews).toBeGreaterThan(50);
      expect(a.frameworkShare).toBeLessThan(0.2);
      expect(a.ownShare).toBeGreaterThanOrEqual(0.98);
      expect(a.foreignShare).toBeLessThanOrEqual(0.01);
      // The hot function is there, under the view, with CPU time.
      const hot = stacks(tree).filter((s) => s.names.includes('alpha_hot'));
      expect(hot.reduce((n, s) => n + s.cpuUs, 0)).toBeGreaterThan(0);
      const requests = await getJson<{ items: { type: string; status?: number; outcome: string }[] }>(`${op.url}/api/v1/sessions/${created.id}/requests`);
      expect(requests.items.every((r) => r.type === 'GET /alpha/:id' && r.outcome === 'ok')).toBe(true);
    } finally {
      stop.abort();
      await traffic;
    }
  }, 150_000);

  it('follows a sync endpoint into the worker thread FastAPI runs it on', async () => {
    const stop = new AbortController();
    const traffic = load(app.port, ['/sync/{i}', '/beta/{i}'], stop.signal, 4);
    try {
      const created = await createSession(op.url, { name: 'sync', spec: { selector: { matchLabels: { app: 'fastapi' } }, request: 'GET /sync/:id', requests: 40, duration: '2m', sampleInterval: '2ms' } });
      await eventually(async () => ((await sessionView(op.url, created.id)).status.phase === 'Completed' ? true : undefined), 90_000, 'session Completed');
      stop.abort();
      await traffic;
      await settledSession(op.url, created.id);
      const tree = await sessionTree(op.url, created.id);
      const a = attribution(tree, 'sync_view', 'beta_hot', ['sync_view', 'beta']);
      console.info('fastapi sync attribution', a);
      expect(a.inViews).toBeGreaterThan(30);
      expect(a.ownShare).toBeGreaterThanOrEqual(0.98);
      expect(a.foreignShare).toBeLessThanOrEqual(0.01);
      const hot = stacks(tree).filter((s) => s.names.includes('sync_hot'));
      expect(hot.reduce((n, s) => n + s.cpuUs, 0)).toBeGreaterThan(0);
    } finally {
      stop.abort();
      await traffic;
    }
  }, 150_000);

  it('shows a view that sleeps 20 ms and computes 20 ms as about half waiting, half CPU', async () => {
    const stop = new AbortController();
    const traffic = load(app.port, ['/mixed'], stop.signal, 1, 5);
    try {
      const created = await createSession(op.url, { name: 'mixed', spec: { selector: { matchLabels: { app: 'fastapi' } }, request: 'GET /mixed', requests: 15, duration: '2m', sampleInterval: '10ms' } });
      await eventually(async () => ((await sessionView(op.url, created.id)).status.phase === 'Completed' ? true : undefined), 90_000, 'session Completed');
      stop.abort();
      await traffic;
      await settledSession(op.url, created.id);
      const tree = await sessionTree(op.url, created.id);
      let cpu = 0;
      let waiting = 0;
      let waitingUnderView = 0;
      for (const s of stacks(tree)) {
        const leaf = s.names[s.names.length - 1]!;
        if (leaf === '(waiting: I/O and timers)') {
          waiting += s.wallUs;
          if (s.names.includes('waits_then_computes')) waitingUnderView += s.wallUs;
        } else if (s.kinds[s.kinds.length - 1] === 'code') cpu += s.cpuUs;
      }
      const share = cpu / (cpu + waiting);
      console.info('fastapi mixed', { cpu, waiting, waitingUnderView, share });
      expect(share).toBeGreaterThan(0.3);
      expect(share).toBeLessThan(0.7);
      // Awaiting (the task not running, as on the Node side) is the bulk of the waiting; the rest is the
      // loop's thread off CPU inside the endpoint.
      expect((waiting - waitingUnderView) / waiting).toBeGreaterThan(0.6);
    } finally {
      stop.abort();
      await traffic;
    }
  }, 150_000);
});
