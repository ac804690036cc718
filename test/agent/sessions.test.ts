import http from 'node:http';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Agent, startAgent } from '../../agent/index.js';
import { SondeError } from '../../src/errors.js';
import { deserializeTree } from '../../src/model/serialized.js';
// @ts-expect-error plain JS fixture shared with the child-process tests
import { expressApp, plainApp } from './fixtures/apps.mjs';
import { get, until } from './helpers/load.js';
import { closeServer, listen, sleep } from './helpers/servers.js';

const SMALL = { alpha: 200_000, beta: 150_000 };

describe('sessions', () => {
  let agent: Agent;
  let plain: Server;
  let express: Server;
  let port: number;
  let ePort: number;

  beforeAll(async () => {
    agent = startAgent({ logLevel: 'silent', collectEveryMs: 100, samplerWarmupMs: 0 });
    plain = plainApp(SMALL) as Server;
    port = await listen(plain);
    express = (await expressApp(SMALL)) as Server;
    ePort = await listen(express);
  });
  afterAll(async () => {
    await agent?.close();
    await closeServer(plain);
    await closeServer(express);
  });

  it('ends when N matching requests have finished, with a record and a tree for each', async () => {
    const s = agent.startSession({ request: 'GET /alpha/:id', requests: 5, durationMs: 30_000, sampleIntervalMs: 1 });
    for (let i = 0; i < 7; i++) void get(port, `/alpha/${i}`);
    void get(port, '/beta/1');
    const r = await s.done;
    expect(r.reason).toBe('requests');
    expect(r.partial).toBe(false);
    expect(r.requests).toHaveLength(5);
    for (const q of r.requests) {
      expect(q.type).toBe('GET /alpha/:id');
      expect(q.outcome).toBe('ok');
      expect(q.status).toBe(200);
      expect(q.durationMs).toBeGreaterThan(0);
      expect(q.startedAt).toBeGreaterThanOrEqual(r.startedAt);
      // A record's own tree adds up to its own samples plus waiting and held-up time.
      const t = deserializeTree(q.tree);
      expect(t.totals.samples).toBeGreaterThanOrEqual(q.samples);
    }
    expect(r.samples).toBe(r.requests.reduce((n, q) => n + q.samples, 0));
    expect(r.tree.totals.samples).toBeGreaterThan(0);
    expect(r.tree.frames.some((f) => f.name === 'hotAlpha')).toBe(true);
    expect(r.tree.frames.some((f) => f.name === 'hotBeta')).toBe(false);
  });

  it('counts only requests that start after the session starts', async () => {
    const early = get(port, '/slow/1?ms=400');
    await sleep(50);
    // Sampled every 2 ms, so that the two 20 ms requests span ~20 ticks: on a loaded machine some of them
    // find the woken thread waiting for a CPU (held up, rightly), and 10 ms left too few to tell.
    const s = agent.startSession({ request: 'GET /slow/:id', requests: 2, durationMs: 30_000, sampleIntervalMs: 2 });
    await early; // finished inside the session, started before it: not counted
    await sleep(50);
    expect(agent.catalogue().find((c) => c.type === 'GET /slow/:id')?.count).toBeGreaterThanOrEqual(1);
    const t0 = Date.now();
    await Promise.all([get(port, '/slow/2?ms=20'), get(port, '/slow/3?ms=20')]);
    const r = await s.done;
    expect(r.reason).toBe('requests');
    expect(r.requests.every((q) => q.startedAt >= t0 - 1)).toBe(true);
    // Waiting on a timer is shown as waiting, not dropped: the 20 ms sleep shows as waiting, and the
    // request's ticks (waiting, held up, its own) cover most of its life. On a loaded machine the woken
    // thread waits for a CPU after each event, and that is held up, not waiting: both count here.
    for (const q of r.requests) {
      expect(q.waitingUs, JSON.stringify(q)).toBeGreaterThan(0);
      const ownUs = q.samples * 2000;
      expect(q.waitingUs + q.blockedUs + ownUs, JSON.stringify(q)).toBeGreaterThan(q.durationMs * 500);
    }
    expect(r.tree.frames.some((f) => f.name.startsWith('(waiting'))).toBe(true);
  });

  it('ends at the deadline first with a partial result', async () => {
    const s = agent.startSession({ request: 'GET /alpha/:id', requests: 50, durationMs: 1000, sampleIntervalMs: 5 });
    await Promise.all([get(port, '/alpha/1'), get(port, '/alpha/2'), get(port, '/alpha/3')]);
    const r = await s.done;
    expect(r.reason).toBe('deadline');
    expect(r.partial).toBe(true);
    expect(r.requests).toHaveLength(3);
    expect(r.endedAt - r.startedAt).toBeGreaterThanOrEqual(990);
  });

  it('ends at the deadline with an empty result when nothing matches', async () => {
    const s = agent.startSession({ request: 'GET /nothing/:id', requests: 5, durationMs: 1000, sampleIntervalMs: 10 });
    await get(port, '/beta/1');
    const r = await s.done;
    expect(r.reason).toBe('deadline');
    expect(r.partial).toBe(true);
    expect(r.requests).toEqual([]);
    expect(r.samples).toBe(0);
    expect(r.tree.size).toBe(1);
  });

  it('reports a request that throws (error) and one the client aborts (aborted)', async () => {
    const failing = agent.startSession({ request: 'GET /fail/:id', requests: 1, durationMs: 30_000, sampleIntervalMs: 5 });
    const aborted = agent.startSession({ request: 'GET /slow/:id', requests: 1, durationMs: 30_000, sampleIntervalMs: 5 });
    await get(ePort, '/fail/7');
    const req = http.get({ host: '127.0.0.1', port: ePort, path: '/slow/8?ms=3000' });
    req.on('error', () => {});
    await sleep(150);
    req.destroy();
    const [f, a] = await Promise.all([failing.done, aborted.done]);
    expect(f.reason).toBe('requests');
    expect(f.requests[0]).toMatchObject({ type: 'GET /fail/:id', outcome: 'error', status: 500 });
    expect(a.reason).toBe('requests');
    expect(a.requests[0]).toMatchObject({ type: 'GET /slow/:id', outcome: 'aborted' });
    expect(a.requests[0]!.status).toBeUndefined();
    expect(a.requests[0]!.durationMs).toBeLessThan(2000);
  });

  it('runs two sessions for different types at once, each with its own requests', async () => {
    const a = agent.startSession({ request: 'GET /alpha/:id', requests: 4, durationMs: 30_000, sampleIntervalMs: 2 });
    const b = agent.startSession({ request: 'GET /beta/:id', requests: 3, durationMs: 30_000, sampleIntervalMs: 2 });
    const traffic = [];
    for (let i = 0; i < 5; i++) traffic.push(get(port, `/alpha/${i}`), get(port, `/beta/${i}`));
    const [ra, rb] = await Promise.all([a.done, b.done]);
    await Promise.all(traffic);
    expect(ra.reason).toBe('requests');
    expect(rb.reason).toBe('requests');
    expect(ra.requests.map((q) => q.type)).toEqual(Array(4).fill('GET /alpha/:id'));
    expect(rb.requests.map((q) => q.type)).toEqual(Array(3).fill('GET /beta/:id'));
    expect(ra.tree.frames.some((f) => f.name === 'hotBeta')).toBe(false);
    expect(rb.tree.frames.some((f) => f.name === 'hotAlpha')).toBe(false);
  });

  it('streams each record as its request finishes, before the session ends', async () => {
    const s = agent.startSession({ request: 'GET /alpha/:id', requests: 3, durationMs: 30_000, sampleIntervalMs: 5 });
    const seen: number[] = [];
    s.onRequest(() => seen.push(Date.now()));
    await get(port, '/alpha/1');
    await until(() => seen.length === 1, 5000, 'the first record');
    let ended = false;
    void s.done.then(() => (ended = true));
    expect(ended).toBe(false);
    await get(port, '/alpha/2');
    await get(port, '/alpha/3');
    const r = await s.done;
    expect(seen).toHaveLength(3);
    expect(r.requests).toHaveLength(3);
  });

  it('stops on demand with what it has, marked partial', async () => {
    const s = agent.startSession({ request: 'GET /alpha/:id', requests: 100, durationMs: 30_000, sampleIntervalMs: 5 });
    await get(port, '/alpha/1');
    await sleep(20);
    s.stop();
    const r = await s.done;
    expect(r.reason).toBe('stopped');
    expect(r.partial).toBe(true);
    expect(r.requests).toHaveLength(1);
  });

  it('refuses bad parameters with one clear error listing every problem', () => {
    let err: unknown;
    try {
      agent.startSession({ request: '', requests: 0, durationMs: 5, sampleIntervalMs: 0, colour: 'red' } as never);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SondeError);
    const e = err as SondeError;
    expect(e.code).toBe('SONDE_INVALID_SPEC');
    for (const field of ['request', 'requests', 'durationMs', 'sampleIntervalMs', 'colour']) expect(e.message).toContain(field);
    expect(() => agent.startSession({ request: 'GET /x', requests: 10_001, durationMs: 1000, sampleIntervalMs: 10 })).toThrow(/requests: must be a whole number from 1 to 10000/);
  });

  it('refuses a second running session with the same id', async () => {
    const s = agent.startSession({ id: 'same', request: 'GET /alpha/:id', requests: 1, durationMs: 30_000, sampleIntervalMs: 10 });
    expect(() => agent.startSession({ id: 'same', request: 'GET /beta/:id', requests: 1, durationMs: 30_000, sampleIntervalMs: 10 })).toThrow(/already running/);
    s.stop();
    await s.done;
  });
});
