import { mergeTrees } from '../../../src/model/merge.js';
import { deserializeTree, serializeTree, type SerializedTree } from '../../../src/model/serialized.js';
import { requestLikeTrees, seededRandom } from '../../src/random-trees.js';

/**
 * The benchmark's pod trees: 1,000 trees of 5,000 nodes, each a random walk through one shared
 * 60,000-node "universe" (pods of one workload run the same code), seeded so every run sends the same.
 */
export function podTrees(count: number, nodesEach: number, seed = 42): SerializedTree[] {
  return requestLikeTrees(seededRandom(seed), count, nodesEach, 60_000).map(serializeTree);
}

/** Merges trees as the operator meets them: each read from JSON, with its own Frame objects. Returns ms. */
export function timeMerge(wire: string[]): { parseMs: number; mergeMs: number; nodes: number } {
  const t0 = performance.now();
  const trees = wire.map((w) => deserializeTree(JSON.parse(w)));
  const t1 = performance.now();
  const merged = mergeTrees(trees);
  const t2 = performance.now();
  return { parseMs: t1 - t0, mergeMs: t2 - t1, nodes: merged.size };
}
