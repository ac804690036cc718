import type { DiffTree } from '../../src/model/diff.js';
import { frameLabel } from '../../src/model/frame.js';
import { layoutFlame } from './layout.js';
import { DIFF_PALETTE, diffColor } from './palette.js';
import type { ViewModel } from './tree-model.js';

/** How the two sides of a comparison are named on screen ("typical"/"slow", "baseline"/"new"). */
export interface DiffNames {
  base: string;
  next: string;
}

/**
 * A differential tree prepared for drawing: bars as wide as their share of the comparison ("new" or
 * "slow") side, coloured by how that share changed against the baseline — red where the new side
 * spends a larger share, blue where it spends less (src/model/diff.ts aligns the trees).
 */
export interface DiffModel extends ViewModel {
  diff: DiffTree;
  names: DiffNames;
  /** Requests on each side, for per-request figures. */
  requests: { base: number; next: number };
  /** The change that reaches the ends of the colour scale (share points, 0..1). */
  maxAbs: number;
  /** Paths only the baseline has: zero width here, so the page says how much is not drawn. */
  hiddenBaseShare: number;
}

export function makeDiffModel(diff: DiffTree, names: DiffNames, requests: { base: number; next: number }, roots: readonly string[] = []): DiffModel {
  const t = diff.tree;
  const width = diff.comparison.total;
  const layout = layoutFlame(t.parents, width);
  const d = diff.delta.total;
  let maxAbs = 0;
  for (let i = 1; i < t.size; i++) maxAbs = Math.max(maxAbs, Math.abs(d[i]!));
  // Keep a floor, so two nearly identical trees do not paint noise in full red and blue.
  maxAbs = Math.max(maxAbs, 0.02);
  const baseColors = new Uint16Array(t.size);
  for (let i = 0; i < t.size; i++) baseColors[i] = diffColor(d[i]!, maxAbs);
  let hiddenBaseShare = 0;
  for (let i = 1; i < t.size; i++) {
    // the top of a path the comparison never took
    if (width[i] === 0 && width[t.parents[i]!]! > 0) hiddenBaseShare += diff.baseline.total[i]!;
  }
  const frameLabels = t.frames.map((f) => frameLabel(f, roots));
  return {
    diff,
    names,
    requests,
    maxAbs,
    hiddenBaseShare,
    layout,
    frameIds: t.frameIds,
    frameLabels,
    palette: DIFF_PALETTE,
    baseColors,
    roots,
    label: (node) => (node === 0 ? `all: ${names.next} vs ${names.base}` : frameLabels[t.frameIds[node]!]!),
  };
}
