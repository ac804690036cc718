import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAgentBuilt, NODES } from './helpers/build.js';
import { type ChildServer, startChildServer } from './helpers/child.js';
import { Load } from './helpers/load.js';

interface Summary {
  nonIdle: number;
  underHandler: number;
  otherHot: number;
  ownHotLeaf: number;
  waiting: number;
  blocked: number;
  notUnderHandler: Record<string, number>;
}
interface Result {
  reason: string;
  contextMode: string;
  sampler: string;
  partial: boolean;
  requests: number;
  outcomes: string[];
  summary: Summary;
}

const N = 20;

/**
 * The core claim: with two request types interleaving on one event loop, each bursting CPU between
 * awaits, the session for type alpha holds alpha's code and not beta's. Each case is a real server
 * process with the compiled agent loaded through --import, on the Node version under test, and real
 * load from this process.
 */
const CASES: [app: string, node: string, flags: string[], contextMode: 'cped' | 'hooks', sampler: 'interrupt' | 'v8'][] = [
  ['plain', '20', [], 'hooks', 'interrupt'],
  ['plain', '22', [], 'hooks', 'interrupt'],
  // Node 22 carries contexts for free once AsyncContextFrame is on (the default from Node 24).
  ['fastify', '22', ['--experimental-async-context-frame'], 'cped', 'interrupt'],
  ['plain', '24', [], 'cped', 'interrupt'],
  ['fastify', '20', [], 'hooks', 'interrupt'],
  ['express', '20', [], 'hooks', 'interrupt'],
  ['fastify', '24', [], 'cped', 'interrupt'],
  // V8's sampler, the fallback where the interrupt sampler's addon is not built: both context modes.
  ['fastify', '20', [], 'hooks', 'v8'],
  ['express', '24', [], 'cped', 'v8'],
];

describe('attribution under concurrent load', () => {
  beforeAll(() => ensureAgentBuilt(), 120_000);

  for (const [app, node, flags, contextMode, sampler] of CASES) {
    describe(`${app} on Node ${node}${flags.length ? ` ${flags.join(' ')}` : ''}, ${sampler} sampler`, () => {
      let server: ChildServer;
      let load: Load;
      beforeAll(async () => {
        server = await startChildServer(NODES[node]!, app, { SONDE_SAMPLER: sampler }, flags);
        load = new Load(server.port, [(k) => `/alpha/${k}`, (k) => `/beta/${k}`], 8);
      });
      afterAll(async () => {
        await load?.stop();
        await server?.close();
      });

      it(`gives alpha's profile to alpha's handler (≥ 98%) and almost nothing to beta's hot function (≤ 1%)`, async () => {
        const r = await server.request<Result>(
          {
            cmd: 'session',
            params: { request: 'GET /alpha/:id', requests: N, durationMs: 60_000, sampleIntervalMs: 1 },
            judge: { handler: 'alphaHandler', ownHot: 'hotAlpha', otherHot: 'hotBeta' },
          },
          'result',
        );
        const s = r.summary;
        const detail = `${server.node}: ${JSON.stringify(s)}`;
        console.log(`${app} ${server.node} ${sampler}: ${s.nonIdle} own samples, ${((100 * s.underHandler) / s.nonIdle).toFixed(2)}% under alphaHandler, ${((100 * s.otherHot) / s.nonIdle).toFixed(2)}% in hotBeta; waiting ${s.waiting}, held up ${s.blocked}`);
        expect(r.reason, detail).toBe('requests');
        expect(r.contextMode).toBe(contextMode);
        expect(r.sampler).toBe(sampler);
        expect(r.partial).toBe(false);
        expect(r.requests).toBe(N);
        expect(r.outcomes.every((o) => o === 'ok')).toBe(true);
        // Enough samples that one stray sample moves the ratios by well under the margins.
        expect(s.nonIdle, detail).toBeGreaterThanOrEqual(500);
        expect(s.underHandler / s.nonIdle, detail).toBeGreaterThanOrEqual(0.98);
        expect(s.otherHot / s.nonIdle, detail).toBeLessThanOrEqual(0.01);
        // Under this load an alpha request spends most of its life behind beta's bursts: shown, not dropped.
        expect(s.blocked, detail).toBeGreaterThan(0);
      });
    });
  }
});
