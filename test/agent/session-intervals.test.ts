import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Agent, startAgent } from '../../agent/index.js';
import type { LocalSessionResult } from '../../agent/profiling/session.js';
import { deserializeTree } from '../../src/model/serialized.js';
// @ts-expect-error plain JS fixture shared with the child-process tests
import { plainApp } from './fixtures/apps.mjs';
import { get } from './helpers/load.js';
import { closeServer, listen, sleep } from './helpers/servers.js';

/** CPU per alpha request (bursts of `hotAlpha`), enough for a few 10 ms ticks each. */
const WORK = { alpha: 1_500_000, beta: 100_000 };
const REQUESTS = 12;

/**
 * What a session's samples say about its interval: request time per sample (each tick inside a request
 * is its own code, waiting, or held up by other work, so the tree's samples cover its duration), and
 * the wall time its tree claims against the requests' durations.
 */
function measured(r: LocalSessionResult): { msPerSample: number; wallOverDuration: number; wallPerSampleUs: number } {
  let durationMs = 0;
  let samples = 0;
  let wallUs = 0;
  for (const q of r.requests) {
    durationMs += q.durationMs;
    const t = deserializeTree(q.tree);
    samples += t.totals.samples;
    wallUs += t.totals.wallUs;
  }
  return { msPerSample: durationMs / samples, wallOverDuration: wallUs / 1000 / durationMs, wallPerSampleUs: wallUs / samples };
}

describe('sessions at different intervals on one process', () => {
  let agent: Agent;
  let app: Server;
  let port: number;

  beforeAll(async () => {
    agent = startAgent({ logLevel: 'silent', collectEveryMs: 100, samplerWarmupMs: 0, sampler: 'interrupt' });
    app = plainApp(WORK) as Server;
    port = await listen(app);
  });
  afterAll(async () => {
    await agent?.close();
    await closeServer(app);
  });

  async function pair(first: number, second: number): Promise<[LocalSessionResult, LocalSessionResult]> {
    const a = agent.startSession({ request: 'GET /alpha/:id', requests: REQUESTS, durationMs: 60_000, sampleIntervalMs: first });
    await sleep(30);
    const b = agent.startSession({ request: 'GET /alpha/:id', requests: REQUESTS, durationMs: 60_000, sampleIntervalMs: second });
    await sleep(30);
    // One at a time, so that both sessions take the same requests.
    for (let i = 0; i < REQUESTS; i++) await get(port, `/alpha/${i}`);
    return Promise.all([a.done, b.done]);
  }

  for (const [first, second] of [[10, 2], [2, 10]] as const) {
    it(`gives each session its own interval: ${first} ms first, then ${second} ms`, async () => {
      const results = await pair(first, second);
      const at: Record<number, ReturnType<typeof measured>> = {};
      for (const [r, asked] of [[results[0], first], [results[1], second]] as const) {
        expect(r.reason).toBe('requests');
        // The interval it reports is the one it asked, and the one its samples come at.
        expect(r.sampleIntervalMs).toBe(asked);
        at[asked] = measured(r);
        // Every sample stands for the session's interval: its time figures follow its samples.
        expect(at[asked]!.wallPerSampleUs).toBeCloseTo(asked * 1000, 0);
      }
      const why = JSON.stringify(at);
      // The 10 ms session gets one sample per 10 ms of request time, not the sampler's 2 ms ones. (On a
      // quiet machine about 10.5; on one loaded far past its cores the app's thread misses ticks for
      // tens of ms and both sessions see fewer: 19 at a load of 12 on 2 cores.)
      expect(at[10]!.msPerSample, why).toBeGreaterThan(8);
      expect(at[10]!.msPerSample, why).toBeLessThan(30);
      expect(at[10]!.wallOverDuration, why).toBeLessThan(1.25);
      // The 2 ms session gets the finer ticks: never faster than it asked, and clearly finer than the
      // 10 ms one (ticks come late under load, never early); its tree claims no more time than there was.
      expect(at[2]!.msPerSample, why).toBeGreaterThan(1.6);
      expect(at[2]!.msPerSample, why).toBeLessThan(at[10]!.msPerSample / 2);
      expect(at[2]!.wallOverDuration, why).toBeLessThan(1.25);
      // The same requests, seen at two rates.
      expect(results[0].requests.map((q) => q.id)).toEqual(results[1].requests.map((q) => q.id));
    });
  }
});
