import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { startAgent } from '../../agent/index.js';
import { systemClock } from '../../agent/clock.js';
import { createRootLogger } from '../../agent/log.js';
import { Profiler } from '../../agent/profiling/profiler.js';
import { WallSampler } from '../../agent/sampler/wall-sampler.js';
import { SondeError } from '../../src/errors.js';
import { get } from './helpers/load.js';
import { closeServer, listen } from './helpers/servers.js';

// This file runs in its own process (vitest forks), so the module cache says what the agent loaded.
const require = createRequire(import.meta.url);
const loaded = (part: string): boolean => Object.keys(require.cache).some((k) => k.includes(part));
/** Whether a thread of this name runs in this process (Linux names threads in /proc). */
const threadRunning = (name: string): boolean =>
  readdirSync('/proc/self/task').some((t) => {
    try {
      return readFileSync(`/proc/self/task/${t}/comm`, 'utf8').startsWith(name);
    } catch {
      return false; // the thread ended while listing
    }
  });

// The interrupt sampler first: the module cache must not yet hold V8's sampler when it is checked.
const SAMPLERS = [
  { kind: 'interrupt', module: 'sonde_sampler.node', thread: 'sonde:sampler', warmupMs: 0 },
  { kind: 'v8', module: '@datadog/pprof', thread: 'v8:ProfEvntProc', warmupMs: 500 },
] as const;

describe.each(SAMPLERS)('dormant when idle, $kind sampler', ({ kind, module, thread, warmupMs }) => {
  const server = http.createServer((req, res) => res.end('ok'));
  afterAll(() => closeServer(server));

  it('classifies requests without loading or starting the sampler, and stops it when sessions end', async () => {
    const agent = startAgent({ logLevel: 'silent', sampler: kind });
    const port = await listen(server);
    for (let i = 0; i < 20; i++) await get(port, `/ping/${i}`);
    expect(agent.catalogue().find((e) => e.type === 'GET /ping/:id')?.count).toBe(20);
    expect(loaded(module)).toBe(false);
    expect(threadRunning(thread)).toBe(false);

    const s = agent.startSession({ request: 'GET /ping/:id', requests: 2, durationMs: 10_000, sampleIntervalMs: 10 });
    const t0 = Date.now();
    expect(loaded(module)).toBe(true);
    expect(threadRunning(thread)).toBe(true);
    if (warmupMs > 0) {
      // Inside the sampler's warm-up window: not profiled.
      await get(port, '/ping/99');
      await new Promise((r) => setTimeout(r, warmupMs + 100));
    }
    await get(port, '/ping/100');
    await get(port, '/ping/101');
    const r = await s.done;
    expect(r.reason).toBe('requests');
    expect(r.sampler).toBe(kind);
    expect(r.requests.every((q) => q.startedAt >= t0 + warmupMs)).toBe(true);
    expect(threadRunning(thread)).toBe(false);
    await agent.close();
  });
});

describe('a sampler that cannot start', () => {
  it('ends the session with reason error and says why; the app goes on', async () => {
    class BrokenSampler extends WallSampler {
      override start(): void {
        throw new SondeError('SONDE_SAMPLER_FAILED', 'no profiler on this platform');
      }
    }
    const log = createRootLogger('silent');
    const profiler = new Profiler(new BrokenSampler(systemClock, log), systemClock, log);
    const session = profiler.start({ id: 's1', request: 'GET /x', limit: 1, deadline: Date.now() + 10_000, sampleIntervalMs: 10 });
    const r = await session.done;
    expect(r.reason).toBe('error');
    expect(r.partial).toBe(true);
    expect(r.error).toMatch(/sampler could not start: no profiler on this platform/);
    expect(profiler.begin({ method: 'GET', url: '/x' })).toBeUndefined();
  });
});
