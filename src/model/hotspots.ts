import { byFunction } from './by-function.js';
import type { CallTree } from './call-tree.js';
import { type Frame, type FrameKind, frameLabel } from './frame.js';
import { type WeightName, type Weights, WEIGHT_NAMES } from './weights.js';
import type { AppRoots } from './source-path.js';

export interface HotspotOptions {
  /** At most this many rows. Default 20. */
  limit?: number;
  /** Rank by self weight (where the time is spent) or total (what it is spent under). Default 'self'. */
  by?: 'self' | 'total';
  /** The weight that ranks and that the fractions are of. Default: wall time if any, else samples. */
  weight?: WeightName;
  /** Frame kinds left out of the rows (their weight still counts in the fractions). Default ['idle']. */
  skipKinds?: readonly FrameKind[];
}

/** One function's weight across the whole tree, wherever it was called from. */
export interface HotspotRow {
  frame: Frame;
  /** Index into the tree's frame table. */
  frameIndex: number;
  self: Weights;
  /** Each sample once, even when the function is on the stack more than once (recursion). */
  total: Weights;
  /** Of the tree's total, by the chosen weight; 0..1. */
  selfFraction: number;
  totalFraction: number;
}

/** Self and total weight of every frame in the tree, recursion counted once; indexed by frame. */
export interface FrameWeights {
  self: Record<WeightName, Float64Array>;
  total: Record<WeightName, Float64Array>;
}

/**
 * Per-frame self and total weights in O(nodes): a depth-first walk that keeps, per frame, how many
 * times it is on the current path, and adds a node's total only where its frame is not already on
 * the path above it.
 */
export function frameWeights(tree: CallTree): FrameWeights {
  const nf = tree.frames.length;
  const self = {} as Record<WeightName, Float64Array>;
  const total = {} as Record<WeightName, Float64Array>;
  for (const name of WEIGHT_NAMES) {
    self[name] = new Float64Array(nf);
    total[name] = new Float64Array(nf);
  }
  for (let i = 1; i < tree.size; i++) {
    const f = tree.frameIds[i]!;
    for (const name of WEIGHT_NAMES) self[name][f]! += tree.self[name][i]!;
  }
  const onPath = new Int32Array(nf);
  // Entries >= 0 enter a node; ~node (negative) leaves it.
  const stack: number[] = [0];
  while (stack.length) {
    const e = stack.pop()!;
    if (e < 0) {
      onPath[tree.frameIds[~e]!]!--;
      continue;
    }
    if (e > 0) {
      const f = tree.frameIds[e]!;
      if (onPath[f] === 0) for (const name of WEIGHT_NAMES) total[name][f]! += tree.total[name][e]!;
      onPath[f]!++;
      stack.push(~e);
    }
    const kids = tree.children(e);
    for (let k = kids.length - 1; k >= 0; k--) stack.push(kids[k]!);
  }
  return { self, total };
}

/** The heaviest functions of a tree, by self or total weight; ties break by name for stable output. */
export function topHotspots(tree: CallTree, options: HotspotOptions = {}): HotspotRow[] {
  const by = options.by ?? 'self';
  const weight = options.weight ?? (tree.total.wallUs[0]! > 0 ? 'wallUs' : 'samples');
  const limit = options.limit ?? 20;
  const skip = new Set<FrameKind>(options.skipKinds ?? ['idle']);
  const fw = frameWeights(tree);
  const rank = fw[by][weight];
  const rootTotal = tree.total[weight][0]!;
  const candidates: number[] = [];
  for (let f = 0; f < tree.frames.length; f++) if (rank[f]! > 0 && !skip.has(tree.frames[f]!.kind)) candidates.push(f);
  candidates.sort((a, b) => rank[b]! - rank[a]! || tree.frames[a]!.name.localeCompare(tree.frames[b]!.name) || a - b);
  return candidates.slice(0, Math.max(0, limit)).map((f) => {
    const pick = (cols: Record<WeightName, Float64Array>): Weights => ({ samples: cols.samples[f]!, wallUs: cols.wallUs[f]!, cpuUs: cols.cpuUs[f]! });
    return {
      frame: tree.frames[f]!,
      frameIndex: f,
      self: pick(fw.self),
      total: pick(fw.total),
      selfFraction: rootTotal > 0 ? fw.self[weight][f]! / rootTotal : 0,
      totalFraction: rootTotal > 0 ? fw.total[weight][f]! / rootTotal : 0,
    };
  });
}

/** A frame as one line of status and tables: `name file:line`, the file by source-path.ts's rule. */
export function formatHotspot(frame: Frame, roots?: AppRoots): string {
  return frameLabel(frame, roots);
}

/**
 * The few hotspots a ProfilingSession's status carries (so `kubectl` alone answers "where"): by
 * self weight, synthetic and idle frames left out, percent with one decimal, one row per function
 * (its lines merged: see by-function.ts). The shape of `Hotspot` in session/types.ts.
 */
export function statusHotspots(tree: CallTree, limit = 5, weight?: WeightName, roots?: AppRoots): { frame: string; selfPercent: number }[] {
  const options: HotspotOptions = { limit, by: 'self', skipKinds: ['idle', 'synthetic'] };
  if (weight) options.weight = weight;
  return topHotspots(byFunction(tree).tree, options).map((r) => ({ frame: formatHotspot(r.frame, roots), selfPercent: Math.round(r.selfFraction * 1000) / 10 }));
}
