import { describe, expect, it } from 'vitest';
import { CallTreeBuilder, emptyTree } from '../../src/model/call-tree-builder.js';
import { makeFrame } from '../../src/model/frame.js';
import { framePool, randomTree, seededRandom } from './random-trees.js';

const main = makeFrame('main', '/app/main.js', 1, 1);
const work = makeFrame('work', '/app/work.js', 10, 3);
const leaf = makeFrame('leaf', '/app/work.js', 20, 5);

describe('CallTreeBuilder', () => {
  it('shares a node for an equal path and doubles its weight', () => {
    const b = new CallTreeBuilder();
    const n1 = b.addStack([main, work], { samples: 1, wallUs: 10, cpuUs: 5 });
    const n2 = b.addStack([makeFrame('main', '/app/main.js', 1, 1), makeFrame('work', '/app/work.js', 10, 3)], { samples: 1, wallUs: 10, cpuUs: 5 });
    expect(n2).toBe(n1);
    const t = b.build();
    expect(t.size).toBe(3);
    expect(t.selfOf(n1)).toEqual({ samples: 2, wallUs: 20, cpuUs: 10 });
  });

  it('computes totals bottom-up and keeps parents before children', () => {
    const b = new CallTreeBuilder();
    b.addStack([main, work, leaf], { samples: 3, wallUs: 30, cpuUs: 30 });
    b.addStack([main, work], { samples: 1, wallUs: 10, cpuUs: 0 });
    b.addStack([main, leaf], { samples: 2, wallUs: 20, cpuUs: 2 });
    const t = b.build();
    expect(t.totals).toEqual({ samples: 6, wallUs: 60, cpuUs: 32 });
    expect(t.totalOf(1)).toEqual({ samples: 6, wallUs: 60, cpuUs: 32 });
    for (let i = 1; i < t.size; i++) expect(t.parentOf(i)).toBeLessThan(i);
    expect(t.stackOf(3).map((f) => f.name)).toEqual(['main', 'work', 'leaf']);
    expect(Array.from(t.children(1)).map((c) => t.frame(c)!.name)).toEqual(['work', 'leaf']);
    expect(Array.from(t.depths())).toEqual([0, 1, 2, 3, 2]);
  });

  it('rejects what would corrupt a tree, with a RangeError', () => {
    const b = new CallTreeBuilder();
    const f = b.internFrame(main);
    expect(() => b.child(5, f)).toThrow(RangeError);
    expect(() => b.child(-1, f)).toThrow(RangeError);
    expect(() => b.child(0, 7)).toThrow(RangeError);
    expect(() => b.child(0.5, f)).toThrow(RangeError);
    expect(() => b.child(Number.NaN, f)).toThrow(RangeError);
    expect(() => b.addSelf(0, { samples: 1, wallUs: 0, cpuUs: 0 })).toThrow(/node 0/);
    const n = b.child(0, f);
    expect(() => b.addSelf(n, { samples: -1, wallUs: 0, cpuUs: 0 })).toThrow(RangeError);
    expect(() => b.addSelf(n, { samples: 0, wallUs: Number.NaN, cpuUs: 0 })).toThrow(RangeError);
    expect(() => b.addSelfValues(n, 0, 0, Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => b.addStack([], { samples: 1, wallUs: 0, cpuUs: 0 })).toThrow(RangeError);
    expect(() => makeFrame('x', '', -1)).toThrow(RangeError);
    expect(() => makeFrame('x', '', 1.5)).toThrow(RangeError);
    expect(() => makeFrame('x', '', 1, 1, 'bogus' as never)).toThrow(RangeError);
  });

  it('cannot be used after build', () => {
    const b = new CallTreeBuilder();
    b.addStack([main], { samples: 1, wallUs: 1, cpuUs: 0 });
    b.build();
    expect(() => b.child(0, 0)).toThrow(/already built/);
    expect(() => b.build()).toThrow(/already built/);
  });

  it('grows past its initial capacity without losing nodes (hash table rehash)', () => {
    const b = new CallTreeBuilder();
    const frames = framePool(50).map((f) => b.internFrame(f));
    // A wide and deep tree: 50 children under each of the first 400 nodes.
    for (let p = 0; p < 400; p++) for (const f of frames) b.child(p, f);
    expect(b.size).toBe(1 + 400 * 50);
    // Asking again returns the same nodes.
    for (let p = 0; p < 400; p += 37) for (const f of frames) expect(b.child(p, f)).toBeLessThan(1 + 400 * 50);
    expect(b.size).toBe(1 + 400 * 50);
  });

  it('builds trees whose totals equal the sum of self weights (seeded)', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const t = randomTree(seededRandom(seed), { nodes: 1000 });
      let sum = 0;
      for (let i = 0; i < t.size; i++) sum += t.self.samples[i]!;
      expect(t.totals.samples).toBe(sum);
      for (let i = 1; i < t.size; i++) expect(t.total.samples[t.parentOf(i)]!).toBeGreaterThanOrEqual(t.total.samples[i]!);
    }
  });

  it('gives an empty tree with only a root', () => {
    const t = emptyTree();
    expect(t.size).toBe(1);
    expect(t.frame(0)).toBeUndefined();
    expect(t.frameOf(0)).toBe(-1);
  });
});
