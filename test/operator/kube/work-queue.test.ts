import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../operator/clock.js';
import { WorkQueue } from '../../../operator/kube/work-queue.js';
import { testLog, tick, until } from './harness.js';

describe('WorkQueue', () => {
  it('coalesces a key queued many times and never runs one key twice at once', async () => {
    const running = new Set<string>();
    const runs: string[] = [];
    let overlap = false;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const q = new WorkQueue(
      async (key) => {
        if (running.has(key)) overlap = true;
        running.add(key);
        runs.push(key);
        if (key === 'ns/a' && runs.length === 1) await gate;
        running.delete(key);
      },
      { log: testLog(), concurrency: 1 },
    );
    q.add('ns/a');
    await until(() => runs.length === 1, 'first run');
    // While ns/a runs (one worker): adds of ns/a collapse into one rerun, queued adds of ns/b into one run.
    for (let i = 0; i < 10; i++) q.add('ns/a');
    q.add('ns/b');
    q.add('ns/b');
    await tick(20);
    expect(runs).toEqual(['ns/a']);
    release();
    await until(() => q.length === 0 && runs.length === 3, 'drain');
    await tick(20);
    expect(runs).toEqual(['ns/a', 'ns/b', 'ns/a']);
    expect(overlap).toBe(false);
  });

  it('retries a failing key with capped backoff on the clock, then forgets the failures', async () => {
    const clock = new ManualClock();
    let failuresLeft = 4;
    const times: number[] = [];
    const q = new WorkQueue(
      async () => {
        times.push(clock.now());
        await Promise.resolve(); // fails asynchronously, like an API call
        if (failuresLeft-- > 0) throw new Error('API down');
      },
      { log: testLog(), clock, backoff: { initialMs: 100, maxMs: 400, jitter: 0 } },
    );
    const t0 = clock.now();
    q.add('ns/x');
    for (let i = 0; i < 5; i++) {
      await until(() => times.length === i + 1, `run ${i + 1}`);
      await until(() => q.length === 0, 'settled');
      clock.advance(1000);
    }
    expect(times.map((t) => t - t0)).toEqual([0, 100, 1000 + 200, 2000 + 400, 3000 + 400]);
    // Succeeded: the next failure starts from the initial delay again.
    expect(clock.pending).toBe(0);
  });

  it('requeues after the delay a reconcile asks for, keeping the earliest', async () => {
    const clock = new ManualClock();
    const runs: number[] = [];
    const q = new WorkQueue(() => {
      runs.push(clock.now());
      return runs.length === 1 ? { requeueAfterMs: 5000 } : undefined;
    }, { log: testLog(), clock });
    const t0 = clock.now();
    q.add('ns/s');
    await until(() => runs.length === 1 && q.length === 0, 'first');
    q.addAfter('ns/s', 9000); // later than the pending 5 s: ignored
    clock.advance(4999);
    await tick(10);
    expect(runs).toHaveLength(1);
    clock.advance(1);
    await until(() => runs.length === 2, 'requeue');
    expect(runs[1]! - t0).toBe(5000);
    clock.advance(10_000);
    await tick(10);
    expect(runs).toHaveLength(2);
  });

  it('shutDown drops delayed keys and waits for running ones', async () => {
    const clock = new ManualClock();
    let finished = false;
    const q = new WorkQueue(async () => {
      await tick(30);
      finished = true;
    }, { log: testLog(), clock });
    q.add('a/b');
    q.addAfter('a/c', 1000);
    await q.shutDown();
    expect(finished).toBe(true);
    expect(clock.pending).toBe(0);
    q.add('a/d');
    expect(q.length).toBe(0);
  });
});
