import { describe, expect, it } from 'vitest';
import { CallTreeBuilder } from '../../src/model/call-tree-builder.js';
import type { CallTree } from '../../src/model/call-tree.js';
import { frameKey, makeFrame } from '../../src/model/frame.js';
import { mergeTrees } from '../../src/model/merge.js';
import { WEIGHT_NAMES } from '../../src/model/weights.js';
import { deserializeTree, serializeTree } from '../../src/model/serialized.js';
import { framePool, randomTree, seededRandom } from './random-trees.js';

/** Self weight per path, keyed by the frame keys from the root: the tree's meaning, independent of node order. */
function selfByPath(tree: CallTree): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const keys: string[] = [''];
  for (let i = 1; i < tree.size; i++) {
    keys[i] = `${keys[tree.parentOf(i)]}/${frameKey(tree.frame(i)!)}`;
    const w = tree.selfOf(i);
    out.set(keys[i]!, [w.samples, w.wallUs, w.cpuUs]);
  }
  return out;
}

describe('mergeTrees', () => {
  it('is exact: totals of the merge equal the sum of the parts, path by path (seeded property test)', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rand = seededRandom(seed);
      const frames = framePool(5 + Math.floor(rand() * 40));
      const parts = Array.from({ length: 1 + Math.floor(rand() * 8) }, () =>
        randomTree(rand, { nodes: 1 + Math.floor(rand() * 300), frames, depthBias: rand() }),
      );
      const merged = mergeTrees(parts);
      for (const name of WEIGHT_NAMES) {
        const sum = parts.reduce((s, t) => s + t.totals[name], 0);
        expect(merged.totals[name], `seed ${seed} ${name}`).toBe(sum);
      }
      // Node by node: each path's self weight is the sum of that path's self weights in the parts.
      const expected = new Map<string, number[]>();
      for (const p of parts) {
        for (const [path, w] of selfByPath(p)) {
          const e = expected.get(path) ?? [0, 0, 0];
          expected.set(path, e.map((v, k) => v + w[k]!));
        }
      }
      const got = selfByPath(merged);
      expect(got.size, `seed ${seed} node count`).toBe(expected.size);
      for (const [path, w] of expected) expect(got.get(path), `seed ${seed} ${path}`).toEqual(w);
    }
  });

  it('keeps the tree invariants: parents first, siblings never share a frame, totals ≥ children', () => {
    const rand = seededRandom(99);
    const frames = framePool(30);
    const merged = mergeTrees(Array.from({ length: 20 }, () => randomTree(rand, { nodes: 500, frames })));
    const seen = new Set<string>();
    for (let i = 1; i < merged.size; i++) {
      const p = merged.parentOf(i);
      expect(p).toBeLessThan(i);
      const key = `${p}:${merged.frameOf(i)}`;
      expect(seen.has(key)).toBe(false);
      seen.add(key);
      for (const name of WEIGHT_NAMES) expect(merged.total[name][p]!).toBeGreaterThanOrEqual(merged.total[name][i]!);
    }
    // The result passes the strict reader, which checks the same invariants independently.
    expect(deserializeTree(serializeTree(merged)).size).toBe(merged.size);
  });

  it('treats equal frames from different objects as one frame (as trees read from the wire are)', () => {
    const a = new CallTreeBuilder();
    a.addStack([makeFrame('main', '/a.js', 1, 1), makeFrame('work', '/a.js', 5, 3)], { samples: 2, wallUs: 20, cpuUs: 10 });
    const b = new CallTreeBuilder();
    b.addStack([makeFrame('main', '/a.js', 1, 1), makeFrame('work', '/a.js', 5, 3)], { samples: 3, wallUs: 30, cpuUs: 0 });
    b.addStack([makeFrame('main', '/a.js', 1, 1), makeFrame('work', '/a.js', 5, 4)], { samples: 1, wallUs: 10, cpuUs: 0 });
    const m = mergeTrees([a.build(), deserializeTree(serializeTree(b.build()))]);
    expect(m.size).toBe(4);
    expect(m.frames).toHaveLength(3);
    expect(m.totalOf(1)).toEqual({ samples: 6, wallUs: 60, cpuUs: 10 });
  });

  it('merges nothing into an empty tree', () => {
    const m = mergeTrees([]);
    expect(m.size).toBe(1);
    expect(m.totals).toEqual({ samples: 0, wallUs: 0, cpuUs: 0 });
  });
});
