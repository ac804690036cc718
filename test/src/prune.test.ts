import { describe, expect, it } from 'vitest';
import { CallTreeBuilder } from '../../src/model/call-tree-builder.js';
import { SYNTHETIC, makeFrame } from '../../src/model/frame.js';
import { pruneTree } from '../../src/model/prune.js';
import { WEIGHT_NAMES } from '../../src/model/weights.js';
import { framePool, randomTree, seededRandom } from './random-trees.js';

describe('pruneTree', () => {
  it('keeps the root total and charges what it cuts to a visible "(pruned)" child (seeded)', () => {
    for (let seed = 1; seed <= 15; seed++) {
      const t = randomTree(seededRandom(seed), { nodes: 2000, frames: framePool(80) });
      const p = pruneTree(t, { minFraction: 0.01 });
      expect(p.size).toBeLessThan(t.size);
      for (const name of WEIGHT_NAMES) expect(p.totals[name]).toBeCloseTo(t.totals[name], 6);
      const pruned = p.frames.findIndex((f) => f.name === SYNTHETIC.pruned.name && f.kind === 'synthetic');
      expect(pruned).toBeGreaterThanOrEqual(0);
      let prunedWeight = 0;
      for (let i = 1; i < p.size; i++) if (p.frameOf(i) === pruned) prunedWeight += p.self.samples[i]!;
      expect(prunedWeight).toBeGreaterThan(0);
      // Every kept real node is above the threshold.
      const threshold = 0.01 * t.totals.samples;
      for (let i = 1; i < p.size; i++) if (p.frameOf(i) !== pruned) expect(p.total.samples[i]!).toBeGreaterThanOrEqual(threshold);
    }
  });

  it('keeps every kept node\'s total unchanged', () => {
    const main = makeFrame('main', '/a.js', 1, 1);
    const big = makeFrame('big', '/a.js', 2, 1);
    const tiny = makeFrame('tiny', '/a.js', 3, 1);
    const b = new CallTreeBuilder();
    b.addStack([main, big], { samples: 98, wallUs: 980, cpuUs: 0 });
    b.addStack([main, tiny], { samples: 1, wallUs: 10, cpuUs: 0 });
    b.addStack([main, big, tiny], { samples: 1, wallUs: 10, cpuUs: 0 });
    const p = pruneTree(b.build(), { minFraction: 0.05 });
    const names = (i: number): string => p.stackOf(i).map((f) => f.name).join(';');
    const rows = Array.from({ length: p.size - 1 }, (_, k) => `${names(k + 1)}=${p.total.samples[k + 1]}`);
    expect(rows.sort()).toEqual(['main;(pruned)=1', 'main;big;(pruned)=1', 'main;big=99', 'main=100'].sort());
  });

  it('keeps at most maxNodes real nodes, heaviest first, ancestors included', () => {
    const t = randomTree(seededRandom(3), { nodes: 5000, frames: framePool(100) });
    const p = pruneTree(t, { maxNodes: 100 });
    const real = Array.from({ length: p.size }, (_, i) => i).filter((i) => i > 0 && p.frame(i)!.name !== '(pruned)');
    expect(real.length).toBeLessThanOrEqual(100);
    expect(p.totals.samples).toBe(t.totals.samples);
  });
});
