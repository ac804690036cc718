import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../agent/clock.js';
import { createRootLogger } from '../../agent/log.js';
import { InterruptSampler } from '../../agent/sampler/interrupt-sampler.js';
import { NATIVE_CODE } from '../../agent/sampler/native-batch.js';
import type { RawSample, SampleBatch } from '../../agent/sampler/profile-samples.js';
import { ensureAgentBuilt, NODES, ROOT } from './helpers/build.js';

const run = promisify(execFile);
const INTERVAL_US = 2000;

function spin(ms: number): number {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x += Math.sqrt(x + 1);
  return x;
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ticks = (samples: RawSample[]): number => samples.reduce((n, s) => n + s.weight, 0);
const onStack = (s: RawSample, name: string): boolean => s.stack.some((f) => f.name === name);
/** Ticks a stretch of `ms` milliseconds spans at the test's interval. */
const expected = (ms: number): number => (ms * 1000) / INTERVAL_US;

function merge(a: SampleBatch, b: SampleBatch): SampleBatch {
  return { ...b, samples: [...a.samples, ...b.samples], idle: [...a.idle, ...b.idle], busy: [...a.busy, ...b.busy], unplaced: a.unplaced + b.unplaced };
}

// In-process on this runtime (Node 20: contexts through the async hook); the other runtimes and
// AsyncContextFrame are covered by the attribution suite and the child processes below.
describe('the interrupt sampler', () => {
  let sampler: InterruptSampler | undefined;
  beforeAll(() => ensureAgentBuilt(), 120_000);
  afterEach(() => {
    sampler?.stop();
    sampler = undefined;
  });

  it("puts a context's running code on its stack, and the time the thread waits in the event loop as idle", async () => {
    sampler = new InterruptSampler(systemClock, createRootLogger('silent'));
    sampler.start(INTERVAL_US);
    const request = {};
    sampler.trackContexts(true);
    sampler.run(request, () => spin(200));
    await sleep(200);
    const batch = sampler.stop();
    const own = batch.samples.filter((s) => s.context === request);
    expect(own.every((s) => onStack(s, 'spin'))).toBe(true);
    // Timer slack on a shared machine: the margins are wide, the two kinds must not be confused.
    expect(ticks(own)).toBeGreaterThan(expected(200) * 0.5);
    expect(ticks(own)).toBeLessThan(expected(200) * 1.3);
    expect(batch.idle.length).toBeGreaterThan(expected(200) * 0.5);
    expect(batch.samples.every((s) => s.kind === 'code' && s.cpuUs <= s.wallUs + 1)).toBe(true);
  });

  it('follows the context across awaits, and leaves code outside any context unstacked', async () => {
    sampler = new InterruptSampler(systemClock, createRootLogger('silent'));
    sampler.start(INTERVAL_US);
    const request = {};
    sampler.trackContexts(true);
    await sampler.run(request, async () => {
      await sleep(5);
      spin(60);
      await Promise.resolve();
      spin(60);
    });
    spin(100); // no context: busy time of no session
    const batch = sampler.stop();
    const own = batch.samples.filter((s) => s.context === request);
    expect(ticks(own)).toBeGreaterThan(expected(120) * 0.5);
    expect(batch.samples.every((s) => s.context === request)).toBe(true);
    expect(batch.busy.length).toBeGreaterThan(expected(100) * 0.5);
  });

  // V8 answers an interrupt only at a safe point: JSON.stringify has them, JSON.parse mostly not, so the
  // ticks of a long parse are answered at the next function entry (here `use`, called by the code that
  // parsed) and charged, as busy ticks owed, to the stack seen there under a (native code) leaf: the
  // caller's subtree, not lost, and not `use`'s own time.
  it('charges native work that holds the thread (one long JSON.parse) to the code that called it', () => {
    const text = JSON.stringify(Array.from({ length: 400_000 }, (_, i) => ({ id: i, name: `item ${i}`, tags: ['a', 'b'] })));
    const use = (o: unknown[]): number => o.length;
    sampler = new InterruptSampler(systemClock, createRootLogger('silent'));
    sampler.start(INTERVAL_US);
    const request = {};
    const t0 = performance.now();
    sampler.run(request, function parseBig() {
      return use(JSON.parse(text) as unknown[]);
    });
    const ms = performance.now() - t0;
    const batch = sampler.stop();
    const own = batch.samples.filter((s) => s.context === request);
    const detail = JSON.stringify({ ms, idle: batch.idle.length, busy: batch.busy.length, own: own.map((s) => [s.weight, s.stack.slice(-3).map((f) => f.name).join(' > ')]) });
    expect(ms).toBeGreaterThan(20); // enough ticks for the ratio below to mean something
    const underCaller = own.filter((s) => onStack(s, 'parseBig'));
    // The ticker needs a CPU to tick on: on a loaded machine it misses some, hence the loose bound.
    expect(ticks(underCaller), detail).toBeGreaterThan(expected(ms) * 0.3);
    expect(ticks(underCaller), detail).toBe(ticks(own));
    // …as time in native code (or, where V8 answered inside the parse, as the caller's own), not as
    // time of `use`, the function JavaScript resumed in.
    const asUse = underCaller.filter((s) => s.stack.at(-1)?.name === 'use');
    expect(ticks(asUse), detail).toBeLessThanOrEqual(2);
  });

  it('keeps frames by identity across collects, and collects go on after each other', () => {
    sampler = new InterruptSampler(systemClock, createRootLogger('silent'));
    sampler.start(INTERVAL_US);
    const request = {};
    const first = sampler.run(request, () => (spin(30), sampler!.collect()));
    sampler.run(request, () => spin(30));
    const second = sampler.stop();
    const all = merge(first, second).samples;
    const spins = new Set(all.flatMap((s) => s.stack.filter((f) => f.name === 'spin')));
    expect(first.samples.length).toBeGreaterThan(0);
    expect(second.samples.length).toBeGreaterThan(0);
    // One Frame object per source line, whichever batch introduced it.
    expect(spins.size).toBeLessThanOrEqual(3);
    expect(second.startUs).toBe(first.endUs);
  });

  it('starts and stops again and again with interrupts still in flight', () => {
    sampler = new InterruptSampler(systemClock, createRootLogger('silent'));
    for (let i = 0; i < 200; i++) {
      sampler.start(100);
      spin(1);
      sampler.stop();
    }
    sampler.start(INTERVAL_US);
    expect(sampler.running).toBe(true);
  });

  it('rejects an interval outside 100 µs – 10 s with a clear error', () => {
    sampler = new InterruptSampler(systemClock, createRootLogger('silent'));
    expect(() => sampler!.start(10)).toThrow(/intervalUs must be between 100 and 10,000,000/);
    expect(sampler.running).toBe(false);
  });

  // The ticker thread must be gone before the isolate is: a process exiting, or a worker terminated,
  // while sampling at 100 µs (interrupts always in flight) must end cleanly on every runtime; and the
  // garbage collector must be able to free stopped samplers (node::ObjectWrap aborted that on Node 24).
  for (const [node, bin] of Object.entries(NODES)) {
    it(`lets a process exit, a worker be terminated mid-sampling, and stopped samplers be collected, on Node ${node}`, async () => {
      const fixture = join(ROOT, 'test/agent/fixtures/sampler-teardown.mjs');
      for (const how of ['exit', 'worker', 'collect']) {
        const { stdout } = await run(bin, ['--expose-gc', fixture, how], { timeout: 20_000 });
        expect(stdout.trim()).toBe(`ok ${how}`);
      }
    }, 40_000);
  }
});
