import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../agent/clock.js';
import { createRootLogger } from '../../agent/log.js';
import { WallSampler } from '../../agent/sampler/wall-sampler.js';

/** Wall-clock milliseconds each of `n` collects took, `gapMs` apart. */
async function collectTimes(sampler: WallSampler, n: number, gapMs: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    await new Promise((r) => setTimeout(r, gapMs));
    const t0 = performance.now();
    sampler.collect();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b);
}

describe('the wall sampler collect', () => {
  let sampler: WallSampler | undefined;
  afterEach(() => {
    sampler?.stop();
    sampler = undefined;
  });

  // At a 100 ms interval, waiting for profiling signals around the profile's restart (the library's
  // V8-bug workaround) holds the thread for about one interval or more; without it a collect is a
  // millisecond or two of work.
  it('does not hold the app thread for a sample interval', async () => {
    sampler = new WallSampler(systemClock, createRootLogger('silent'));
    sampler.start(100_000);
    const times = await collectTimes(sampler, 3, 150);
    expect(times[1]).toBeLessThan(40);
  });

  it('waits for the profiling signal when the V8-bug workaround is asked for', async () => {
    sampler = new WallSampler(systemClock, createRootLogger('silent'), undefined, { v8BugWorkaround: true });
    sampler.start(100_000);
    const times = await collectTimes(sampler, 3, 150);
    expect(times[1]).toBeGreaterThan(40);
  });
});
