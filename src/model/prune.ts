import type { CallTree } from './call-tree.js';
import { CallTreeBuilder } from './call-tree-builder.js';
import { SYNTHETIC } from './frame.js';
import type { WeightName } from './weights.js';

export interface PruneOptions {
  /** Drop nodes whose total is below this fraction of the root's total (by `by`). Default 0. */
  minFraction?: number;
  /** Keep at most this many nodes (the heaviest by total, always with their ancestors). */
  maxNodes?: number;
  /** The weight that decides what is tiny. Default 'samples'. */
  by?: WeightName;
}

/**
 * Removes tiny subtrees without losing their weight: what is cut under a parent is charged to a
 * "(pruned)" child of that parent, so every kept node's total, and the root's, are unchanged.
 */
export function pruneTree(tree: CallTree, options: PruneOptions): CallTree {
  const by = options.by ?? 'samples';
  const totals = tree.total[by];
  const rootTotal = totals[0]!;
  const threshold = (options.minFraction ?? 0) * rootTotal;
  const keep = new Uint8Array(tree.size);
  keep[0] = 1;
  for (let i = 1; i < tree.size; i++) keep[i] = keep[tree.parents[i]!]! && totals[i]! >= threshold && totals[i]! > 0 ? 1 : 0;

  if (options.maxNodes !== undefined && options.maxNodes > 0) {
    // Heaviest first; a node's total never exceeds its parent's, so a kept node's ancestors are kept
    // whenever ties are broken by index (parents have smaller indexes).
    const order = [...Array(tree.size).keys()].filter((i) => keep[i]).sort((a, b) => totals[b]! - totals[a]! || a - b);
    keep.fill(0);
    for (const i of order.slice(0, options.maxNodes)) keep[i] = 1;
    for (let i = 1; i < tree.size; i++) if (keep[i] && !keep[tree.parents[i]!]) keep[i] = 0;
  }

  const builder = new CallTreeBuilder();
  const prunedFrame = builder.internFrame(SYNTHETIC.pruned);
  const map = new Int32Array(tree.size).fill(-1);
  map[0] = 0;
  for (let i = 1; i < tree.size; i++) {
    const parent = map[tree.parents[i]!]!;
    if (keep[i]) {
      const node = builder.child(parent, builder.internFrame(tree.frames[tree.frameIds[i]!]!));
      map[i] = node;
      const w = tree.selfOf(i);
      if (w.samples || w.wallUs || w.cpuUs) builder.addSelf(node, w);
    } else if (keep[tree.parents[i]!]) {
      // The top of a cut subtree: its whole total becomes "(pruned)" under the kept parent.
      const w = tree.totalOf(i);
      if (w.samples || w.wallUs || w.cpuUs) builder.addSelf(builder.child(parent, prunedFrame), w);
    }
  }
  return builder.build();
}
