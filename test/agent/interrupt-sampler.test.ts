import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { availableParallelism, release, tmpdir } from 'node:os';
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
const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
function kernelAtLeast(major: number, minor: number): boolean {
  const [a = 0, b = 0] = release().split('.').map((n) => Number.parseInt(n, 10));
  return a > major || (a === major && b >= minor);
}
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

  // The ticker asks the kernel first: a tick that finds the thread asleep in the event loop's wait is
  // idle and asks for no interrupt, which would otherwise run at the start of the next callback and
  // charge the wait to it. Here the loop wakes every millisecond for a few microseconds: asking anyway
  // made every tick busy time (108 of 108 measured), since an interrupt was always answered before the
  // next tick.
  it("does not charge the event loop's wait to the callback that follows it", async () => {
    sampler = new InterruptSampler(systemClock, createRootLogger('silent'));
    sampler.start(INTERVAL_US);
    const request = {};
    sampler.trackContexts(true);
    await sampler.run(request, () => new Promise<void>((resolve) => {
      let n = 0;
      const timer = setInterval(() => {
        if (++n === 200) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    }));
    const batch = sampler.stop();
    const own = ticks(batch.samples.filter((s) => s.context === request));
    const all = own + batch.idle.length + batch.busy.length;
    const detail = JSON.stringify({ own, idle: batch.idle.length, busy: batch.busy.length });
    expect(all, detail).toBeGreaterThan(50);
    // Without the kernel check no tick is idle (0 of 108). With it, a quiet machine gives ~95% idle; a
    // loaded one less (93 of 124 in a CI run with test files in parallel: a thread woken by its timer
    // waits for a CPU in state R, which reads as running), so the bound is a majority, far from 0.
    expect(batch.idle.length, detail).toBeGreaterThan(all * 0.6);
  });

  // A thread asleep in a system call other than the event loop's wait (a synchronous read, here opening
  // a FIFO no one writes to yet) is busy for its request, as a Python thread blocked in a read is
  // charged to its frame: the ticks go to the caller under a (native code) leaf, not to idle.
  it.runIf(existsSync('/proc/self/syscall'))('charges a blocking system call to the code that made it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sonde-fifo-'));
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // The writer opens the FIFO after ~80 ms, which is what lets the blocked open return.
    const writer = spawn('sh', ['-c', `sleep 0.08; echo x > ${fifo}`], { stdio: 'ignore' });
    try {
      sampler = new InterruptSampler(systemClock, createRootLogger('silent'));
      sampler.start(INTERVAL_US);
      const request = {};
      const t0 = performance.now();
      sampler.run(request, function blockOnFifo() {
        closeSync(openSync(fifo, 'r'));
      });
      const ms = performance.now() - t0;
      spin(5); // the interrupt that ends the owed ticks needs JavaScript to run
      const batch = sampler.stop();
      const own = batch.samples.filter((s) => s.context === request && onStack(s, 'blockOnFifo'));
      const detail = JSON.stringify({ ms, idle: batch.idle.length, busy: batch.busy.length, own: own.map((s) => [s.weight, s.stack.at(-1)?.name]) });
      expect(ms).toBeGreaterThan(40);
      expect(ticks(own), detail).toBeGreaterThan(expected(ms) * 0.5);
      const asNative = own.filter((s) => s.stack.at(-1) === NATIVE_CODE);
      expect(ticks(asNative), detail).toBeGreaterThan(ticks(own) * 0.8);
    } finally {
      writer.kill();
      rmSync(dir, { recursive: true, force: true });
    }
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

  // Where the ticker and the JavaScript thread share one CPU, the ticker must preempt JavaScript when it
  // wakes, or it only ever runs when JavaScript sleeps and finds the thread idle (measured: 8 of 63 ticks
  // seen without the short slice the ticker asks for). Custom slices need Linux 6.12 (EEVDF).
  for (const [node, bin] of Object.entries(NODES)) {
    it.runIf(hasTaskset && kernelAtLeast(6, 12))(`sees a request's computing when it shares one CPU with the ticker, on Node ${node}`, async () => {
      const fixture = join(ROOT, 'test/agent/fixtures/sampler-one-cpu.mjs');
      const { stdout } = await run('taskset', ['-c', '0', bin, fixture], { timeout: 20_000 });
      const r = JSON.parse(stdout) as { own: number; expected: number };
      expect(r.expected).toBeGreaterThan(50);
      expect(r.own, stdout).toBeGreaterThan(r.expected * 0.6);
      expect(r.own, stdout).toBeLessThan(r.expected * 1.4);
    }, 30_000);
  }

  // A server's work starts when the event loop's timers and sockets wake it. With the kernel's default
  // timer slack the ticker woke with those timers, its interrupt ran first in Node's timer dispatch, and
  // on a CPU shared with JavaScript a request's own code got half the ticks it spans (measured 27 of 57
  // a second; 60 of 61 with no slack). The benchmark harness's server, loaded at 2,000 requests/s from
  // CPU 0 and pinned to CPU 1 with its ticker, times the request's code after its await: the ticks with
  // its context must cover that (a few more: the code before the await is in the context too, untimed).
  for (const [node, bin] of Object.entries(NODES)) {
    it.runIf(hasTaskset && kernelAtLeast(6, 12) && availableParallelism() >= 2)(
      `gives a loaded server's requests the ticks their code spans when it shares one CPU with the ticker, on Node ${node}`,
      async () => {
        const harness = join(ROOT, 'test/bench/agent/sampler-ticks.mjs');
        const { stdout } = await run('taskset', ['-c', '1', bin, harness, 'server', join(ROOT, 'dist'), '1000', '40', '10000'], { timeout: 30_000 });
        const r = JSON.parse(stdout.trim().split('\n').pop()!) as { loadExit: number; stacksPerSecond: number; timedTicksPerSecond: number };
        expect(r.loadExit).toBe(0);
        expect(r.timedTicksPerSecond).toBeGreaterThan(20);
        expect(r.stacksPerSecond, stdout).toBeGreaterThan(r.timedTicksPerSecond * 0.65);
        expect(r.stacksPerSecond, stdout).toBeLessThan(r.timedTicksPerSecond * 1.6);
      },
      40_000,
    );
  }

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
