import { describe, expect, it } from 'vitest';
import { treeToCpuProfile } from '../../src/export/cpuprofile.js';
import { formatInterval, sampleIntervalOf } from '../../src/export/options.js';
import { treeToProfile } from '../../src/export/pprof.js';
import { CallTreeBuilder } from '../../src/model/call-tree-builder.js';
import { makeFrame } from '../../src/model/frame.js';

/** A session's tree whose samples each stand for `intervalUs` (what agents send since issue 14). */
function treeAt(intervalUs: number, withWall = true) {
  const b = new CallTreeBuilder();
  const f = (name: string, line: number) => makeFrame(name, '/app/server.js', line, 1);
  for (const [stack, samples] of [[[f('handler', 1), f('priceOrder', 24)], 30], [[f('handler', 1)], 5]] as const) {
    b.addStack(stack, { samples, wallUs: withWall ? samples * intervalUs : 0, cpuUs: 0 });
  }
  return b.build();
}

describe('export periods follow the samples', () => {
  it("pprof declares the interval the samples stand for, not the one the caller passed (a session's asked interval)", () => {
    const p = treeToProfile(treeAt(10_000), { sampleIntervalUs: 2000 });
    expect(Number(p.period)).toBe(10_000_000);
    // A tree without wall time has nothing to say: the caller's interval stands.
    expect(Number(treeToProfile(treeAt(10_000, false), { sampleIntervalUs: 2000 }).period)).toBe(2_000_000);
  });

  it('cpuprofile spaces its samples by that interval, so its timeline is the tree\'s time', () => {
    const tree = treeAt(10_000);
    const c = treeToCpuProfile(tree, { sampleIntervalUs: 2000, weight: 'samples' });
    const span = (c.timeDeltas ?? []).reduce((a, b) => a + b, 0);
    expect(span).toBe(35 * 10_000);
    expect(c.endTime - c.startTime).toBe(35 * 10_000);
  });

  it('names the interval in the units of the spec', () => {
    expect(sampleIntervalOf(treeAt(2000))).toBe(2000);
    expect(formatInterval(10_000)).toBe('10ms');
    expect(formatInterval(10_340)).toBe('10.3ms');
  });
});
