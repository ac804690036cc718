import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession, eventually, missingBuild, type OperatorProcess, sessionView, settledSession, startOperator, stopAll } from '../e2e/processes.js';
import { attribution, load, type PyApp, scratchVolume, sessionTree, stacks, startPythonApp, stopPythonApps } from './harness.js';

const skip = missingBuild();
const volume = skip ? undefined : scratchVolume();

/**
 * Django's ASGI handler under uvicorn: its sync views run in asgiref's executor thread, not on the loop;
 * the agent follows each request onto that thread while its view runs there.
 */
describe.skipIf(skip)('Python agent: Django under ASGI (uvicorn, sync views)', () => {
  let op: OperatorProcess;
  let app: PyApp;

  beforeAll(async () => {
    op = await startOperator(['--standalone', '--data', `${volume!.dir}/data`]);
    app = await startPythonApp({ argv: ['django_app.py', 'uvicorn'], agentUrl: op.agentUrl, pythonPath: volume!.pythonPath, pod: 'django-asgi-1', labels: 'app=django-asgi' });
  }, 60_000);

  afterAll(async () => {
    await stopPythonApps();
    await stopAll();
    volume?.remove();
  });

  it('attributes a sync view\'s samples to its own view under concurrent mixed load', async () => {
    const stop = new AbortController();
    const traffic = load(app.port, ['/alpha/{i}', '/beta/{i}'], stop.signal, 4);
    try {
      const created = await createSession(op.url, { name: 'alpha', spec: { selector: { matchLabels: { app: 'django-asgi' } }, request: 'GET /alpha/:id', requests: 40, duration: '2m', sampleInterval: '2ms' } });
      await eventually(async () => ((await sessionView(op.url, created.id)).status.phase === 'Completed' ? true : undefined), 90_000, 'session Completed');
      stop.abort();
      await traffic;
      await settledSession(op.url, created.id);
      const tree = await sessionTree(op.url, created.id);
      const a = attribution(tree, 'alpha', 'beta_hot', ['alpha', 'beta']);
      console.info('django asgi attribution', a);
      expect(a.inViews).toBeGreaterThan(30);
      expect(a.ownShare).toBeGreaterThanOrEqual(0.98);
      expect(a.foreignShare).toBeLessThanOrEqual(0.01);
      expect(stacks(tree).filter((s) => s.names.includes('alpha_hot')).reduce((n, s) => n + s.cpuUs, 0)).toBeGreaterThan(0);
    } finally {
      stop.abort();
      await traffic;
    }
  }, 150_000);
});
