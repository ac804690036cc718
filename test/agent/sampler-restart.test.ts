import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../agent/clock.js';
import { createRootLogger } from '../../agent/log.js';
import { InterruptSampler } from '../../agent/sampler/interrupt-sampler.js';

function spin(ms: number): number {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x += Math.sqrt(x + 1);
  return x;
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('the interrupt sampler restarting at a finer interval', () => {
  let sampler: InterruptSampler | undefined;
  afterEach(() => {
    sampler?.stop();
    sampler = undefined;
  });

  it('keeps the contexts of work in flight across the restart, and ticks at the new interval after it', async () => {
    sampler = new InterruptSampler(systemClock, createRootLogger('silent'));
    sampler.start(10_000);
    sampler.trackContexts(true);
    const request = {};
    let restarted: ReturnType<InterruptSampler['restart']> | undefined;
    await sampler.run(request, async () => {
      spin(60);
      await sleep(5);
      // A session asking 2 ms joins: the request started before keeps its context after.
      restarted = sampler!.restart(2000);
      await sleep(5);
      spin(60);
    });
    const after = sampler.stop();
    expect(restarted!.intervalUs).toBe(10_000);
    expect(after.intervalUs).toBe(2000);
    const own = after.samples.filter((s) => s.context === request);
    // 60 ms of its code at 2 ms: about 30 ticks (ticks come late under load, never early).
    const ticks = own.reduce((n, s) => n + s.weight, 0);
    expect(ticks, JSON.stringify({ ticks, idle: after.idle.length, busy: after.busy.length })).toBeGreaterThan(10);
    expect(ticks).toBeLessThan(40);
    expect(restarted!.samples.filter((s) => s.context === request).length).toBeGreaterThan(0);
  });

  it('refuses to restart a sampler that is not running', () => {
    sampler = new InterruptSampler(systemClock, createRootLogger('silent'));
    expect(() => sampler!.restart(2000)).toThrow(/not started/);
  });
});
