import type { CallTree } from './call-tree.js';
import { CallTreeBuilder } from './call-tree-builder.js';

/**
 * Merges trees path by path. Exact: every weight of the result's root equals the sum over the inputs,
 * and every node's self weight equals the sum of the self weights at the same path.
 */
export function mergeTrees(trees: Iterable<CallTree>): CallTree {
  const builder = new CallTreeBuilder();
  for (const tree of trees) addTreeInto(builder, tree);
  return builder.build();
}

/** Adds every node of `tree` into `builder` under `under` (the root by default). */
export function addTreeInto(builder: CallTreeBuilder, tree: CallTree, under = 0): void {
  builder.addTree(tree, under);
}
