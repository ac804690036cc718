import type { CallTree } from '../model/call-tree.js';
import type { FrameKind } from '../model/frame.js';
import { type AppRoots, exportPath } from '../model/source-path.js';
import type { WeightName, Weights } from '../model/weights.js';
import { exportWeight } from './options.js';

/** One node of the nested form d3-hierarchy and d3-flame-graph read. */
export interface D3Node {
  /** The node's index in the CallTree: a stable key for joins and for URLs that reopen a view. */
  id: number;
  name: string;
  /** Total of the chosen weight (d3-flame-graph's convention); for `d3.hierarchy().sum()`, use `self[weight]`. */
  value: number;
  self: Weights;
  total: Weights;
  file: string;
  line: number;
  column: number;
  kind: FrameKind | 'root';
  children: D3Node[];
}

export interface D3ExportOptions {
  /** The weight `value` holds. Default: wall time if the tree has any, else samples. */
  weight?: WeightName;
  /** The root's name. Default 'all'. */
  rootName?: string;
  /** The apps' roots (`hello.agent.root` of the agents that reported the tree): files inside one are written relative to it (source-path.ts). */
  roots?: AppRoots;
}

/**
 * The tree nested as `{name, value, children}` with self and total weights and frame details on every
 * node. Built in one forward pass (parents come before children), so deep trees do not recurse.
 */
export function treeToD3(tree: CallTree, options: D3ExportOptions = {}): D3Node {
  const weight = exportWeight(tree, options.weight);
  const total = tree.total[weight];
  const nodes = new Array<D3Node>(tree.size);
  for (let i = 0; i < tree.size; i++) {
    const f = tree.frame(i);
    const node: D3Node = {
      id: i,
      name: f ? f.name : (options.rootName ?? 'all'),
      value: total[i]!,
      self: tree.selfOf(i),
      total: tree.totalOf(i),
      file: f ? exportPath(f.file, options.roots) : '',
      line: f ? f.line : 0,
      column: f ? f.column : 0,
      kind: f ? f.kind : 'root',
      children: [],
    };
    nodes[i] = node;
    if (i > 0) nodes[tree.parents[i]!]!.children.push(node);
  }
  return nodes[0]!;
}
