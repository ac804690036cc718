import { describe, expect, it } from 'vitest';
import { CallTreeBuilder } from '../../src/model/call-tree-builder.js';
import type { CallTree } from '../../src/model/call-tree.js';
import { diffTrees } from '../../src/model/diff.js';
import { type Frame, makeFrame } from '../../src/model/frame.js';
import { formatHotspot, frameWeights, statusHotspots, topHotspots } from '../../src/model/hotspots.js';
import { mergeTrees } from '../../src/model/merge.js';
import { sandwich } from '../../src/model/sandwich.js';
import { filterTree, searchTree, withoutKinds } from '../../src/model/filter.js';
import { WEIGHT_NAMES } from '../../src/model/weights.js';
import { F, sessionTree } from './fixture-trees.js';
import { framePool, randomTree, seededRandom } from './random-trees.js';

/** The brute-force meaning of a frame's total: samples whose stack contains the frame, each once. */
function bruteTotal(tree: CallTree, frameIndex: number): number {
  let sum = 0;
  for (let i = 1; i < tree.size; i++) {
    let has = false;
    for (let v = i; v > 0; v = tree.parentOf(v)) if (tree.frameOf(v) === frameIndex) has = true;
    if (has) sum += tree.self.samples[i]!;
  }
  return sum;
}

const tree = (stacks: [Frame[], number][]): CallTree => {
  const b = new CallTreeBuilder();
  for (const [s, n] of stacks) b.addStack(s, { samples: n, wallUs: n * 1000, cpuUs: 0 });
  return b.build();
};

describe('topHotspots', () => {
  it('counts a recursive function\'s total once per sample', () => {
    const t = sessionTree();
    const rows = topHotspots(t, { by: 'total', weight: 'samples', limit: 100 });
    const fib = rows.find((r) => r.frame.name === 'fib')!;
    expect(fib.self.samples).toBe(5 + 7 + 11);
    expect(fib.total.samples).toBe(5 + 7 + 11); // not 23 + 18 + 11
    expect(fib.totalFraction).toBeCloseTo(23 / t.totals.samples, 12);
    const render = rows.find((r) => r.frame.name === 'renderInvoice')!;
    expect(render.total.samples).toBe(38);
    expect(render.self.samples).toBe(30);
  });

  it('agrees with brute force on random recursive trees (seeded)', () => {
    for (let seed = 1; seed <= 10; seed++) {
      // Few frames in deep trees: lots of recursion, direct and indirect.
      const t = randomTree(seededRandom(seed), { nodes: 400, frames: framePool(6), depthBias: 0.9 });
      const fw = frameWeights(t);
      for (let f = 0; f < t.frames.length; f++) expect(fw.total.samples[f], `seed ${seed} frame ${f}`).toBe(bruteTotal(t, f));
    }
  });

  it('ranks by self or total, skips idle by default, and limits', () => {
    const t = sessionTree();
    const bySelf = topHotspots(t, { weight: 'samples' });
    expect(bySelf[0]!.frame.name).toBe('renderInvoice');
    expect(bySelf.map((r) => r.frame.name)).not.toContain('(idle)');
    expect(topHotspots(t, { weight: 'samples', skipKinds: [] }).map((r) => r.frame.name)).toContain('(idle)');
    const byTotal = topHotspots(t, { by: 'total', weight: 'samples', limit: 2 });
    expect(byTotal.map((r) => r.frame.name)).toEqual(['GET /orders/:id', 'handleOrder']);
    for (let k = 1; k < bySelf.length; k++) expect(bySelf[k - 1]!.self.samples).toBeGreaterThanOrEqual(bySelf[k]!.self.samples);
    // Wall time by default, as the tree has it: waiting (25 ms, 20 samples) outranks fib (23 ms, 23 samples).
    const order = (rows: { frame: Frame }[]): string[] => rows.map((r) => r.frame.name).filter((n) => n === 'fib' || n.startsWith('(waiting'));
    expect(order(topHotspots(t))).toEqual(['(waiting: I/O and timers)', 'fib']);
    expect(order(topHotspots(t, { weight: 'samples' }))).toEqual(['fib', '(waiting: I/O and timers)']);
  });

  it('formats a frame as `name file:line` for status', () => {
    expect(formatHotspot(F.render)).toBe('renderInvoice views/invoice.js:42');
    expect(formatHotspot(makeFrame('x', 'file:///app/orders.js', 7))).toBe('x app/orders.js:7');
    expect(formatHotspot(F.stringify)).toBe('stringify');
    const status = statusHotspots(sessionTree(), 3);
    expect(status[0]).toEqual({ frame: 'renderInvoice views/invoice.js:42', selfPercent: Math.round((30_000 / sessionTree().totals.wallUs) * 1000) / 10 });
    expect(status.map((h) => h.frame).join()).not.toMatch(/waiting|idle/);
  });
});

describe('diffTrees', () => {
  const main = makeFrame('main', '/a.js', 1, 1);
  const fast = makeFrame('fast', '/a.js', 2, 1);
  const slow = makeFrame('slow', '/a.js', 3, 1);
  const gone = makeFrame('gone', '/a.js', 4, 1);

  it('normalises each side to its own total, so trees of different sizes compare', () => {
    const base = tree([[[main, fast], 75], [[main, slow], 25]]);
    // Ten times larger, with a different shape: slow now takes 60%.
    const cmp = tree([[[main, fast], 400], [[main, slow], 600]]);
    const d = diffTrees(base, cmp, { weight: 'samples' });
    const node = (name: string): number => Array.from({ length: d.tree.size }, (_, i) => i).find((i) => d.tree.frame(i)?.name === name)!;
    expect(d.baseline.rootTotal).toBe(100);
    expect(d.comparison.rootTotal).toBe(1000);
    expect(d.baseline.total[node('slow')]).toBeCloseTo(0.25, 12);
    expect(d.comparison.total[node('slow')]).toBeCloseTo(0.6, 12);
    expect(d.delta.total[node('slow')]).toBeCloseTo(0.35, 12);
    expect(d.delta.total[node('fast')]).toBeCloseTo(-0.35, 12);
    expect(d.delta.total[node('main')]).toBeCloseTo(0, 12);
    expect(d.delta.total[0]).toBe(0);
  });

  it('aligns by path; a path only one side has is 0 on the other', () => {
    const base = tree([[[main, gone], 10], [[main, fast], 10]]);
    const cmp = tree([[[main, fast], 5], [[main, slow], 5]]);
    const d = diffTrees(base, cmp, { weight: 'samples' });
    expect(d.tree.size).toBe(5);
    const at = (name: string): number => Array.from({ length: d.tree.size }, (_, i) => i).find((i) => d.tree.frame(i)?.name === name)!;
    expect([d.baseline.self[at('gone')], d.comparison.self[at('gone')]]).toEqual([0.5, 0]);
    expect([d.baseline.self[at('slow')], d.comparison.self[at('slow')]]).toEqual([0, 0.5]);
    // The union tree holds the raw sums.
    expect(d.tree.totals.samples).toBe(30);
  });

  it('diffs a tree against itself, or a merge of copies of itself, to zero everywhere', () => {
    const t = randomTree(seededRandom(11), { nodes: 500 });
    const d = diffTrees(t, mergeTrees([t, t, t]));
    expect(d.tree.size).toBe(t.size);
    expect(d.weight).toBe('wallUs');
    for (let i = 0; i < d.tree.size; i++) expect(Math.abs(d.delta.total[i]!)).toBeLessThan(1e-12);
  });

  it('gives zeros, not NaN, for an empty side', () => {
    const d = diffTrees(new CallTreeBuilder().build(), tree([[[main], 3]]));
    for (let i = 0; i < d.tree.size; i++) expect(Number.isNaN(d.baseline.total[i]!)).toBe(false);
    expect(d.comparison.total[1]).toBe(1);
  });
});

describe('sandwich', () => {
  const a = makeFrame('a', '/s.js', 1, 1);
  const b = makeFrame('b', '/s.js', 2, 1);
  const c = makeFrame('c', '/s.js', 3, 1);
  const x = makeFrame('x', '/s.js', 4, 1);
  const t = tree([
    [[a, x, c], 4],
    [[b, x], 2],
    [[b, x, x, c], 3], // recursion: x under x
    [[a, c], 5], // c without x: not in x's sandwich
  ]);

  it('callees: every call site of the function merged, recursion counted once', () => {
    const s = sandwich(t, x);
    const ce = s.callees;
    expect(ce.frame(1)!.name).toBe('x');
    expect(ce.totals.samples).toBe(9);
    expect(ce.totalOf(1).samples).toBe(9);
    const rows = Array.from({ length: ce.size - 1 }, (_, k) => `${ce.stackOf(k + 1).map((f) => f.name).join(';')}=${ce.self.samples[k + 1]}`);
    expect(rows.sort()).toEqual(['x;c=4', 'x=2', 'x;x=0', 'x;x;c=3'].sort());
  });

  it('callers: inverted up to the tops of the stacks, weighted by the function\'s total there', () => {
    const cr = sandwich(t, x).callers;
    expect(cr.frame(1)!.name).toBe('x');
    expect(cr.totals.samples).toBe(9);
    const callers = Array.from(cr.children(1)).map((n) => `${cr.frame(n)!.name}=${cr.total.samples[n]}`);
    expect(callers.sort()).toEqual(['a=4', 'b=5']);
  });

  it('agrees with topHotspots\' total on random recursive trees (seeded)', () => {
    for (let seed = 1; seed <= 8; seed++) {
      const r = randomTree(seededRandom(seed), { nodes: 300, frames: framePool(5), depthBias: 0.9 });
      const fw = frameWeights(r);
      for (let f = 0; f < r.frames.length; f++) {
        const s = sandwich(r, f);
        for (const name of WEIGHT_NAMES) {
          expect(s.callers.totals[name], `seed ${seed} frame ${f} ${name}`).toBe(fw.total[name][f]);
          expect(s.callees.totals[name], `seed ${seed} frame ${f} ${name}`).toBeCloseTo(fw.total[name][f]!, 6);
        }
      }
    }
  });

  it('gives empty trees for a frame the tree does not have, and rejects a bad index', () => {
    const s = sandwich(t, makeFrame('nowhere', '/s.js', 9, 9));
    expect([s.frameIndex, s.callers.size, s.callees.size]).toEqual([-1, 1, 1]);
    expect(() => sandwich(t, 99)).toThrow(RangeError);
  });
});

describe('searchTree and filterTree', () => {
  it('finds matches by substring, RegExp or predicate, and counts nested matches once in the share', () => {
    const t = sessionTree();
    const fib = searchTree(t, 'FIB');
    expect(fib.count).toBe(3);
    expect(fib.weight).toBe(23);
    expect(fib.share).toBeCloseTo(23 / t.totals.samples, 12);
    expect(searchTree(t, /invoice\.js$/).weight).toBe(38);
    expect(searchTree(t, (f) => f.kind === 'native', 'wallUs').weight).toBe(8000);
    expect(searchTree(t, 'no such thing')).toMatchObject({ count: 0, weight: 0, share: 0 });
  });

  it('drops subtrees whose top frame is rejected, and their weight with them', () => {
    const t = sessionTree();
    const f = withoutKinds(t, ['idle', 'synthetic']);
    // Every stack starts at the synthetic request root or is idle: nothing is left.
    expect(f.totals.samples).toBe(0);
    const noIdle = withoutKinds(t, ['idle']);
    expect(noIdle.totals.samples).toBe(t.totals.samples - 9);
    const noFib = filterTree(t, (fr) => fr.name !== 'fib');
    expect(noFib.totals.samples).toBe(t.totals.samples - 23);
    expect(noFib.frames.some((fr) => fr.name === 'fib')).toBe(false);
  });
});
