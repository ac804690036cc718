import { describe, expect, it } from 'vitest';
import { onGrid, thinSample } from '../../agent/profiling/interval-grid.js';
import type { RawSample } from '../../agent/sampler/profile-samples.js';

describe('interval grid', () => {
  const kept = (tickUs: number, intervalUs: number, spanUs: number): number => {
    let n = 0;
    for (let t = 1_000_000_000; t < 1_000_000_000 + spanUs; t += tickUs) if (onGrid(t, tickUs, intervalUs)) n++;
    return n;
  };

  it('keeps one tick per interval of the session, whatever the sampler ticks at', () => {
    expect(kept(2000, 10_000, 1_000_000)).toBe(100);
    expect(kept(2000, 3000, 900_000)).toBeGreaterThanOrEqual(299);
    expect(kept(2000, 3000, 900_000)).toBeLessThanOrEqual(301);
    expect(kept(1000, 1000, 100_000)).toBe(100);
    // A session finer than the sampler (the V8 sampler cannot go finer) keeps every tick.
    expect(kept(10_000, 2000, 100_000)).toBe(10);
  });

  it('thins a sample standing for several ticks and scales its wall and CPU time to the session interval', () => {
    const s: RawSample = { ts: 1_000_010_000, context: {}, stack: [], kind: 'code', cpuUs: 9000, weight: 5, wallUs: 10_000 };
    const t = thinSample(s, 10_000)!;
    expect(t.weight).toBe(1);
    expect(t.wallUs).toBe(10_000);
    expect(t.cpuUs).toBe(9000);
    expect(thinSample({ ...s, weight: 1, wallUs: 2000, ts: 1_000_012_000 }, 10_000)).toBeUndefined();
    expect(thinSample(s, 2000)).toBe(s);
  });
});
