import { CallTreeBuilder } from '../../src/model/call-tree-builder.js';
import type { CallTree } from '../../src/model/call-tree.js';
import { type Frame, makeFrame } from '../../src/model/frame.js';

/** A small, fast, seeded PRNG (mulberry32), so property tests replay exactly from their seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A pool of frames shared by generated trees, so merges find common paths (as real pods do). */
export function framePool(count: number): Frame[] {
  const frames: Frame[] = [];
  for (let i = 0; i < count; i++) frames.push(makeFrame(`fn${i}`, `/app/src/mod${i % 37}.js`, 1 + (i % 400), 1 + (i % 13)));
  return frames;
}

export interface RandomTreeOptions {
  nodes: number;
  frames?: readonly Frame[];
  /** Chance that a new node hangs under a recent node (deep trees) rather than anywhere. */
  depthBias?: number;
  /** Chance that a node carries self weight. */
  selfChance?: number;
  /** Integer weights keep sums exact in floating point, so tests compare with toBe. */
  integerWeights?: boolean;
}

/**
 * A random tree with about `nodes` nodes: each new node picks a parent among the existing ones and
 * a frame from the pool; weights are small integers (or fractions when asked).
 */
export function randomTree(rand: () => number, options: RandomTreeOptions): CallTree {
  const frames = options.frames ?? framePool(200);
  const depthBias = options.depthBias ?? 0.7;
  const selfChance = options.selfChance ?? 0.6;
  const integer = options.integerWeights ?? true;
  const b = new CallTreeBuilder();
  const frameIds = frames.map((f) => b.internFrame(f));
  let attempts = 0;
  while (b.size < options.nodes && attempts < options.nodes * 20) {
    attempts++;
    const size = b.size;
    const parent = rand() < depthBias ? Math.max(0, size - 1 - Math.floor(rand() * 8)) : Math.floor(rand() * size);
    const node = b.child(parent, frameIds[Math.floor(rand() * frameIds.length)]!);
    if (rand() < selfChance) {
      const samples = 1 + Math.floor(rand() * 5);
      const wallUs = integer ? samples * 1000 + Math.floor(rand() * 500) : samples * 1000 * (0.5 + rand());
      const cpuUs = integer ? Math.floor(wallUs * rand()) : wallUs * rand();
      b.addSelf(node, { samples, wallUs, cpuUs });
    }
  }
  return b.build();
}

/**
 * Trees that look like one service's requests: each is a random walk through a shared "universe"
 * tree, so merging many of them gives a tree much smaller than the sum of the parts.
 */
export function requestLikeTrees(rand: () => number, count: number, nodesEach: number, universeSize: number): CallTree[] {
  const universe = randomTree(rand, { nodes: universeSize, frames: framePool(Math.max(50, universeSize / 10)), selfChance: 0 });
  const out: CallTree[] = [];
  const picked = new Uint8Array(universe.size);
  for (let t = 0; t < count; t++) {
    picked.fill(0);
    picked[0] = 1;
    const b = new CallTreeBuilder();
    const map = new Int32Array(universe.size).fill(-1);
    map[0] = 0;
    let made = 1;
    // Sample nodes and bring their ancestors along until the tree has the size asked for.
    while (made < nodesEach) {
      let v = 1 + Math.floor(rand() * (universe.size - 1));
      const chain: number[] = [];
      while (!picked[v]) {
        chain.push(v);
        v = universe.parents[v]!;
      }
      for (let k = chain.length - 1; k >= 0 && made < nodesEach; k--) {
        const u = chain[k]!;
        picked[u] = 1;
        const node = b.child(map[universe.parents[u]!]!, b.internFrame(universe.frames[universe.frameIds[u]!]!));
        map[u] = node;
        made++;
        if (rand() < 0.5) b.addSelf(node, { samples: 1 + Math.floor(rand() * 3), wallUs: 1000 + Math.floor(rand() * 9000), cpuUs: Math.floor(rand() * 1000) });
      }
    }
    out.push(b.build());
  }
  return out;
}
