import type { CallTree } from './call-tree.js';
import { CallTreeBuilder } from './call-tree-builder.js';
import type { WeightName } from './weights.js';

/** One side of a comparison: per node of the union tree, as fractions of that side's own total. */
export interface DiffSide {
  /** The side's root total of the chosen weight, in its unit (samples or µs). */
  readonly rootTotal: number;
  readonly self: Float64Array;
  readonly total: Float64Array;
}

/**
 * Two trees aligned path by path. `tree` is the union of both (its weights are the raw sums, for
 * labels and navigation); `baseline` and `comparison` hold each side's weight as a fraction of its
 * own total, so a 1,000-request session compares with a 10-request one; `delta` is comparison minus
 * baseline, in those fractions: > 0 where the comparison spends a larger share.
 */
export interface DiffTree {
  readonly weight: WeightName;
  readonly tree: CallTree;
  readonly baseline: DiffSide;
  readonly comparison: DiffSide;
  readonly delta: { readonly self: Float64Array; readonly total: Float64Array };
}

export interface DiffOptions {
  /** Default: wall time if both trees have any, else samples. */
  weight?: WeightName;
}

/**
 * The differential tree of `baseline` against `comparison` ("typical vs slow requests", "last
 * week's session vs today's"). A path only one side has is 0 on the other.
 */
export function diffTrees(baseline: CallTree, comparison: CallTree, options: DiffOptions = {}): DiffTree {
  const weight = options.weight ?? (baseline.total.wallUs[0]! > 0 && comparison.total.wallUs[0]! > 0 ? 'wallUs' : 'samples');
  const builder = new CallTreeBuilder();
  const mapA = builder.addTree(baseline);
  const mapB = builder.addTree(comparison);
  const tree = builder.build();
  const n = tree.size;
  const side = (t: CallTree, map: Int32Array): DiffSide => {
    const rootTotal = t.total[weight][0]!;
    const scale = rootTotal > 0 ? 1 / rootTotal : 0;
    const self = new Float64Array(n);
    const total = new Float64Array(n);
    const s = t.self[weight];
    const tt = t.total[weight];
    for (let i = 1; i < t.size; i++) {
      self[map[i]!] = s[i]! * scale;
      total[map[i]!] = tt[i]! * scale;
    }
    total[0] = rootTotal > 0 ? 1 : 0;
    return { rootTotal, self, total };
  };
  const a = side(baseline, mapA);
  const b = side(comparison, mapB);
  const dSelf = new Float64Array(n);
  const dTotal = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    dSelf[i] = b.self[i]! - a.self[i]!;
    dTotal[i] = b.total[i]! - a.total[i]!;
  }
  return { weight, tree, baseline: a, comparison: b, delta: { self: dSelf, total: dTotal } };
}
