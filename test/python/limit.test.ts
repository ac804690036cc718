import { afterAll, describe, expect, it } from 'vitest';
import type { SessionView } from '../../src/session/types.js';
import { createSession, eventually, missingBuild, sessionView, settledSession, startOperator, stopAll, waitForAgents } from '../e2e/processes.js';
import { scratchVolume, startPythonApp, stopPythonApps } from './harness.js';

const skip = missingBuild();
const volume = skip ? undefined : scratchVolume();

afterAll(async () => {
  await stopPythonApps();
  await stopAll();
  volume?.remove();
});

/**
 * The Python agent's part in keeping N close (Sonde 0.4): it says `limits` in hello and honours `limit`,
 * so a Python pod that gets a burst after another pod took most of N stops at the cap the operator gave it.
 */
describe.skipIf(skip)('Python agent: limit', () => {
  it('takes no more than its lowered cap from a burst: the count ends at N', async () => {
    const op = await startOperator(['--standalone', '--auth', 'none', '--data', `${volume!.dir}/data`]);
    const [a, b] = await Promise.all(['py-a', 'py-b'].map((pod) => startPythonApp({ argv: ['django_app.py', 'waitress'], agentUrl: op.agentUrl, pythonPath: volume!.pythonPath, pod, labels: 'app=pylim' })));
    // The agents dial on the first request they serve.
    for (const app of [a!, b!]) await (await fetch(`http://127.0.0.1:${app.port}/alpha/0`)).arrayBuffer();
    await waitForAgents(op.url, 2);
    const s = await createSession(op.url, { name: 'pylim', spec: { selector: { matchLabels: { app: 'pylim' } }, request: 'GET /alpha/:id', requests: 20, duration: '2m', sampleInterval: '10ms' } });
    await eventually(async () => ((await sessionView(op.url, s.id)).status.pods.filter((p) => p.state === 'Sampling').length === 2 ? true : undefined), 20_000, 'two pods sampling');
    for (let i = 0; i < 15; i++) await (await fetch(`http://127.0.0.1:${a!.port}/alpha/${i}`)).arrayBuffer();
    await eventually(async () => ((await sessionView(op.url, s.id)).status.requestsProfiled === 15 ? true : undefined), 20_000, '15 stored');
    // 20 requests at once on the other pod: its cap is 5 by now.
    await Promise.all(Array.from({ length: 20 }, (_, i) => fetch(`http://127.0.0.1:${b!.port}/alpha/${100 + i}`).then((r) => r.arrayBuffer())));
    const v: SessionView = await settledSession(op.url, s.id, 1500);
    expect(v.status.phase).toBe('Completed');
    expect(v.status.requestsProfiled).toBe(20);
    expect(v.status.pods.map((p) => [p.name, p.requests])).toEqual([
      ['py-a', 15],
      ['py-b', 5],
    ]);
  }, 120_000);
});
