import type { CallTree } from './call-tree.js';
import { CallTreeBuilder } from './call-tree-builder.js';
import type { Frame, FrameKind } from './frame.js';
import type { WeightName } from './weights.js';

/** What a search found: which nodes match, and their share of the tree with each sample once. */
export interface SearchResult {
  /** 1 where the node's frame matches. */
  matches: Uint8Array;
  /** How many nodes match. */
  count: number;
  /** The weight of samples with a matching frame anywhere on their stack (nested matches once). */
  weight: number;
  /** `weight` as a fraction of the tree's total; 0..1. */
  share: number;
}

/**
 * Finds the frames a search names (a substring of the name or file, case-insensitive, or a RegExp,
 * or a predicate) and the share of the profile under them, for the flame graph's search box.
 */
export function searchTree(tree: CallTree, query: string | RegExp | ((frame: Frame) => boolean), weight: WeightName = 'samples'): SearchResult {
  const test = typeof query === 'function' ? query : typeof query === 'string' ? substring(query) : (f: Frame) => query.test(f.name) || query.test(f.file);
  const frameMatches = tree.frames.map((f) => test(f));
  const matches = new Uint8Array(tree.size);
  // `covered`: a match is on the path above; its total already counts this node's samples.
  const covered = new Uint8Array(tree.size);
  const totals = tree.total[weight];
  let count = 0;
  let sum = 0;
  for (let i = 1; i < tree.size; i++) {
    const p = tree.parents[i]!;
    if (frameMatches[tree.frameIds[i]!]) {
      matches[i] = 1;
      count++;
      if (!covered[p]) sum += totals[i]!;
      covered[i] = 1;
    } else covered[i] = covered[p]!;
  }
  const root = totals[0]!;
  return { matches, count, weight: sum, share: root > 0 ? sum / root : 0 };
}

function substring(q: string): (f: Frame) => boolean {
  const needle = q.toLowerCase();
  return (f) => f.name.toLowerCase().includes(needle) || f.file.toLowerCase().includes(needle);
}

/**
 * A copy of the tree without the subtrees whose top frame `keep` rejects: "hide idle", "hide
 * waiting". Their weight leaves the tree (the result's totals shrink by it); unlike pruneTree this
 * is a filter, not a summary.
 */
export function filterTree(tree: CallTree, keep: (frame: Frame) => boolean): CallTree {
  const kept = tree.frames.map((f) => keep(f));
  const builder = new CallTreeBuilder();
  const map = new Int32Array(tree.size).fill(-1);
  map[0] = 0;
  const { samples, wallUs, cpuUs } = tree.self;
  for (let i = 1; i < tree.size; i++) {
    const p = map[tree.parents[i]!]!;
    if (p < 0 || !kept[tree.frameIds[i]!]) continue;
    const node = builder.child(p, builder.internFrame(tree.frames[tree.frameIds[i]!]!));
    map[i] = node;
    if (samples[i] || wallUs[i] || cpuUs[i]) builder.addSelfValues(node, samples[i]!, wallUs[i]!, cpuUs[i]!);
  }
  return builder.build();
}

/** `filterTree` by frame kind, the common case. */
export function withoutKinds(tree: CallTree, kinds: readonly FrameKind[]): CallTree {
  const drop = new Set(kinds);
  return filterTree(tree, (f) => !drop.has(f.kind));
}
