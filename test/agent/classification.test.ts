import type { Server } from 'node:http';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Agent, startAgent, transaction } from '../../agent/index.js';
import { Catalogue, OVERFLOW_TYPE } from '../../agent/catalogue/catalogue.js';
import { bucketOf, bucketValue, newBuckets, quantile } from '../../agent/catalogue/latency-histogram.js';
import type { Clock } from '../../agent/clock.js';
import { normalisePath, PathCache } from '../../agent/requests/normalise-path.js';
import { TypeFilter } from '../../agent/profiling/type-filter.js';
// @ts-expect-error plain JS fixture shared with the child-process tests
import { expressApp, fastifyApp } from './fixtures/apps.mjs';
import { get } from './helpers/load.js';
import { closeServer, listen } from './helpers/servers.js';

describe('path normalisation', () => {
  it.each([
    ['/orders/42', '/orders/:id'],
    ['/orders/42?expand=items#top', '/orders/:id'],
    ['/users/7/orders/123456', '/users/:id/orders/:id'],
    ['/o/3f2504e0-4f89-41d3-9a0c-0305e82c3301/lines', '/o/:id/lines'],
    ['/blobs/5f3a9c0e8b7d6a1f2e3d4c5b', '/blobs/:id'],
    ['/commit/da39a3ee5e6b4b0d3255bfef95601890afd80709', '/commit/:id'],
    ['/api/v2/health', '/api/v2/health'],
    ['/cafe', '/cafe'],
    ['/', '/'],
    ['http://example.com/a/9?x', '/a/:id'],
    ['', '/'],
  ])('%s → %s', (input, expected) => {
    expect(normalisePath(input)).toBe(expected);
  });

  it('caps very long paths and caches by path without the query', () => {
    expect(normalisePath('/' + 'x'.repeat(2000)).length).toBeLessThanOrEqual(496);
    const cache = new PathCache(2);
    expect(cache.get('/a/1?q=1')).toBe('/a/:id');
    expect(cache.get('/a/1?q=2')).toBe('/a/:id');
    expect(cache.get('/b/2')).toBe('/b/:id');
    expect(cache.get('/c/3')).toBe('/c/:id'); // past its bound the cache starts over rather than growing
  });
});

describe('type filter at request start', () => {
  it('rules out other methods and paths outside the route template, keeps what might match', () => {
    const f = new TypeFilter('GET /api/orders/:id');
    expect(f.mightMatch({ method: 'GET', url: '/api/orders/7?x=1' })).toBe(true);
    expect(f.mightMatch({ method: 'GET', url: '/API/Orders/7' })).toBe(true); // express is case-insensitive
    expect(f.mightMatch({ method: 'POST', url: '/api/orders/7' })).toBe(false);
    expect(f.mightMatch({ method: 'GET', url: '/api/users/7' })).toBe(false);
    expect(f.mightMatch({ method: 'GET', url: 'http://proxy.example/api/orders/7' })).toBe(true);
    expect(new TypeFilter('GET /users/').mightMatch({ method: 'GET', url: '/users' })).toBe(true);
    expect(new TypeFilter('GET /^\\/re(gex)?$/').mightMatch({ method: 'GET', url: '/anything' })).toBe(true);
    const job = new TypeFilter('job:resize');
    expect(job.mightMatch({ type: 'job:resize' })).toBe(true);
    expect(job.mightMatch({ type: 'job:other' })).toBe(false);
    expect(job.mightMatch({ method: 'GET', url: '/x' })).toBe(true);
  });
});

describe('latency histogram', () => {
  it('reads percentiles within one bucket width of the truth', () => {
    const b = newBuckets();
    const values = Array.from({ length: 1000 }, (_, i) => 0.5 + i * 0.2); // 0.5 .. 200.3 ms
    for (const v of values) b[bucketOf(v)]!++;
    for (const q of [0.5, 0.9, 0.99]) {
      const exact = values[Math.ceil(q * values.length) - 1]!;
      const got = quantile(q, b);
      expect(Math.abs(got - exact) / exact).toBeLessThan(0.2);
    }
    expect(quantile(0.5, newBuckets())).toBe(0);
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(1e12)).toBe(95);
    expect(bucketValue(bucketOf(10))).toBeCloseTo(10, -0.5);
  });
});

class ManualClock implements Clock {
  t = 1_000_000;
  now = (): number => this.t;
  nowUs = (): number => this.t * 1000;
  setTimeout = (): object => ({});
  clearTimeout = (): void => {};
}

describe('catalogue', () => {
  it('counts, counts errors, and forgets old latencies after two windows', () => {
    const clock = new ManualClock();
    const c = new Catalogue(clock, 60_000);
    for (let i = 0; i < 100; i++) c.record('GET /a', 10, i % 10 === 0);
    c.record('GET /b', 500, false);
    let snap = c.snapshot();
    expect(snap[0]).toMatchObject({ type: 'GET /a', count: 100, errors: 10 });
    expect(snap[0]!.p50Ms).toBeGreaterThan(8);
    expect(snap[0]!.p50Ms).toBeLessThan(12);
    expect(snap[1]!.p99Ms).toBeGreaterThan(400);
    const v = c.version;
    clock.t += 61_000;
    c.record('GET /a', 100, false);
    expect(c.version).toBe(v + 1);
    snap = c.snapshot();
    expect(snap[0]!.p50Ms).toBeLessThan(12); // previous window still counts
    clock.t += 121_000;
    snap = c.snapshot();
    expect(snap[0]!.count).toBe(101); // counts are since start
    expect(snap[0]!.p50Ms).toBe(0); // latencies are recent only
  });

  it('bounds its size, counting the rest together', () => {
    const c = new Catalogue(new ManualClock(), 60_000, 3);
    for (const t of ['A', 'B', 'C', 'D']) c.record(t, 1, false);
    expect(c.snapshot().map((e) => e.type).sort()).toEqual([OVERFLOW_TYPE, 'A', 'B'].sort());
  });
});

describe('request types from real servers', () => {
  let agent: Agent;
  const servers: Server[] = [];
  beforeAll(() => {
    agent = startAgent({ logLevel: 'silent', samplerWarmupMs: 0 });
  });
  afterAll(async () => {
    await agent.close();
    for (const s of servers) await closeServer(s);
  });
  const typeCount = (type: string): number => agent.catalogue().find((e) => e.type === type)?.count ?? 0;

  it('plain http: method and normalised path', async () => {
    const server = http.createServer((req, res) => {
      res.statusCode = req.url?.startsWith('/broken') ? 503 : 200;
      res.end();
    });
    servers.push(server);
    const port = await listen(server);
    await get(port, '/orders/1?x=1');
    await get(port, '/orders/2');
    await get(port, '/broken/3');
    await new Promise<void>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/orders/9', method: 'POST' }, (res) => res.resume().on('end', resolve));
      req.end('{}');
    });
    expect(typeCount('GET /orders/:id')).toBe(2);
    expect(typeCount('POST /orders/:id')).toBe(1);
    const broken = agent.catalogue().find((e) => e.type === 'GET /broken/:id');
    expect(broken).toMatchObject({ count: 1, errors: 1 });
  });

  it('express: the route template, under its router mount', async () => {
    const server = (await expressApp({ alpha: 1000, beta: 1000 })) as Server;
    servers.push(server);
    const port = await listen(server);
    await get(port, '/api/items/abc');
    await get(port, '/api/items/def');
    await get(port, '/beta/5');
    await get(port, '/fail/5');
    expect(typeCount('GET /api/items/:itemId')).toBe(2);
    expect(typeCount('GET /beta/:id')).toBeGreaterThanOrEqual(1);
    expect(agent.catalogue().find((e) => e.type === 'GET /fail/:id')?.errors).toBe(1);
  });

  it('fastify: the route template from its diagnostics channel, no app code needed', async () => {
    const server = (await fastifyApp({ alpha: 1000, beta: 1000 })) as Server;
    servers.push(server);
    const port = await listen(server);
    const before = typeCount('GET /slow/:id');
    await get(port, '/slow/abc?ms=1');
    await get(port, '/slow/xyz?ms=1');
    await get(port, '/does-not-exist/12');
    expect(typeCount('GET /slow/:id') - before).toBe(2);
    // No route matched: the normalised path.
    expect(typeCount('GET /does-not-exist/:id')).toBe(1);
  });

  it('transaction(): custom units of work, with throws and rejections counted as errors', async () => {
    expect(transaction('job:resize', () => 42)).toBe(42);
    expect(await transaction('job:resize', async () => 'done')).toBe('done');
    expect(() => transaction('job:resize', () => {
      throw new Error('bad');
    })).toThrow('bad');
    await expect(transaction('job:resize', async () => Promise.reject(new Error('worse')))).rejects.toThrow('worse');
    expect(agent.catalogue().find((e) => e.type === 'job:resize')).toMatchObject({ count: 4, errors: 2 });
  });

  it('transaction(): profiled by a session for its type', async () => {
    const s = agent.startSession({ request: 'job:crunch', requests: 2, durationMs: 10_000, sampleIntervalMs: 1 });
    for (let i = 0; i < 2; i++) {
      await transaction('job:crunch', async function crunchJob() {
        let x = 0;
        for (let k = 0; k < 3_000_000; k++) x += Math.sqrt(k);
        await new Promise((r) => setTimeout(r, 5));
        return x;
      });
    }
    const r = await s.done;
    expect(r.reason).toBe('requests');
    expect(r.requests.map((q) => q.type)).toEqual(['job:crunch', 'job:crunch']);
    expect(r.tree.frames.some((f) => f.name === 'crunchJob')).toBe(true);
  });
});
