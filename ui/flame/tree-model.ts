import type { LineWeight } from '../../src/model/by-function.js';
import type { CallTree } from '../../src/model/call-tree.js';
import { frameLabel } from '../../src/model/frame.js';
import { layoutFlame, type FlameLayout } from './layout.js';
import { KIND_PALETTE, KIND_TINY, dimmed, kindColor, matchColor, type PaletteEntry } from './palette.js';

/** The weight a view sizes bars by: wall time when the sampler measured it, else sample counts. */
export type Metric = 'wallUs' | 'samples';

/**
 * What a flame view draws, whatever the tree (ordinary or differential): geometry, frame labels for
 * search and zoom paths, base colours. Built once per tree; zoom and search never rebuild it.
 */
export interface ViewModel {
  layout: FlameLayout;
  /** Frame index of each node (-1 for the root). */
  frameIds: Int32Array;
  /** Label of each frame. */
  frameLabels: readonly string[];
  palette: readonly PaletteEntry[];
  baseColors: Uint16Array;
  /** Stand-in colours for sub-pixel bars (see KIND_TINY); none: only equal colours merge. */
  tiny?: Uint16Array;
  /** The application roots the tree's agents reported: labels and tooltips show files relative to them (source-path.ts). */
  roots: readonly string[];
  label(node: number): string;
}

/** A call tree prepared for drawing, with what its tooltips need. */
export interface TreeModel extends ViewModel {
  tree: CallTree;
  metric: Metric;
  /** How many requests the tree merges (for "per request" figures). */
  requests: number;
  rootLabel: string;
  /** The source lines a bar merges (by-function.ts); empty when it is one line or unknown. */
  lines(node: number): readonly LineWeight[];
}

const NO_LINES: readonly LineWeight[] = [];

/** Prepares a tree for the flame chart; `lines` gives each bar's source lines (byFunction's nodeLines). */
export function makeTreeModel(tree: CallTree, requests: number, rootLabel = 'all', lines: (node: number) => readonly LineWeight[] = () => NO_LINES, roots: readonly string[] = []): TreeModel {
  const metric: Metric = tree.total.wallUs[0]! > 0 ? 'wallUs' : 'samples';
  const layout = layoutFlame(tree.parents, tree.total[metric]);
  const frameLabels = tree.frames.map((f) => frameLabel(f, roots));
  const frameColors = tree.frames.map((f) => kindColor(f.kind, f.name, f.file));
  const baseColors = new Uint16Array(tree.size);
  baseColors[0] = kindColor('root', '');
  for (let i = 1; i < tree.size; i++) baseColors[i] = frameColors[tree.frameIds[i]!]!;
  return {
    tree,
    layout,
    frameIds: tree.frameIds,
    metric,
    frameLabels,
    requests,
    palette: KIND_PALETTE,
    tiny: KIND_TINY,
    baseColors,
    rootLabel,
    lines,
    roots,
    label: (node) => (node === 0 ? rootLabel : frameLabels[tree.frameIds[node]!]!),
  };
}

/** The result of a search: colours for the chart and how much of the tree the matches cover. */
export interface SearchResult {
  colors: Uint16Array;
  /** Matching nodes (bars). */
  nodes: number;
  /** Distinct matching frames (functions at a place). */
  frames: number;
  /** Share of the root's total under matching frames, counting nested matches once. */
  share: number;
}

/** A case-insensitive substring test over frame labels; `null` when the query is empty. */
export function frameMatcher(labels: readonly string[], query: string): Uint8Array | null {
  const q = query.trim().toLowerCase();
  if (!q) return null;
  const hit = new Uint8Array(labels.length);
  for (let f = 0; f < labels.length; f++) if (labels[f]!.toLowerCase().includes(q)) hit[f] = 1;
  return hit;
}

/**
 * Colours matches, fades the rest, and sums the share of the matches. Works on any tree-shaped model
 * (ordinary or differential) given its layout, frame ids and base colours.
 */
export function searchTree(
  layout: FlameLayout,
  frameIds: Int32Array,
  labels: readonly string[],
  baseColors: Uint16Array,
  palette: readonly PaletteEntry[],
  query: string,
): SearchResult | null {
  const hit = frameMatcher(labels, query);
  if (!hit) return null;
  const colors = new Uint16Array(baseColors.length);
  const match = matchColor(palette);
  let nodes = 0;
  let covered = 0;
  let until = -1;
  const seenFrames = new Set<number>();
  const { order, end, value } = layout;
  for (let p = 0; p < layout.size; p++) {
    const node = order[p]!;
    const f = frameIds[node]!;
    if (f >= 0 && hit[f]) {
      colors[node] = match;
      nodes++;
      seenFrames.add(f);
      // nested matches (recursion, a callee of a match that also matches) are inside an already
      // counted subtree: count the outermost only
      if (p >= until) {
        covered += value[node]!;
        until = end[p]!;
      }
    } else {
      colors[node] = dimmed(baseColors[node]!, palette);
    }
  }
  const total = value[0]!;
  return { colors, nodes, frames: seenFrames.size, share: total > 0 ? covered / total : 0 };
}

/** Search over any view model. */
export function searchModel(m: ViewModel, query: string): SearchResult | null {
  return searchTree(m.layout, m.frameIds, m.frameLabels, m.baseColors, m.palette, query);
}

/** The zoom path of a node as the URL carries it: frame labels from the root down, `;`-separated. */
export function zoomPath(label: (node: number) => string, layout: FlameLayout, node: number): string {
  const parts: string[] = [];
  for (let n = node; n > 0; n = layout.parents[n]!) parts.push(label(n));
  return parts.reverse().join(';');
}

/**
 * The node a zoom path names, following the heaviest child with each label; the deepest node found
 * when the tree changed since the link was made (a running session grows).
 */
export function resolveZoom(label: (node: number) => string, layout: FlameLayout, path: string | null | undefined): number {
  if (!path) return 0;
  let cur = 0;
  for (const part of path.split(';')) {
    let next = -1;
    for (let k = layout.kidStart[cur]!; k < layout.kidStart[cur + 1]!; k++) {
      const kid = layout.kids[k]!;
      if (label(kid) === part) {
        next = kid;
        break;
      }
    }
    if (next < 0) break;
    cur = next;
  }
  return cur;
}
