import type { Frame } from './frame.js';
import { type Weights, type WeightName, WEIGHT_NAMES } from './weights.js';

/** Per-node weight columns, one Float64Array per weight. */
export type WeightColumns = Readonly<Record<WeightName, Float64Array>>;

/**
 * An immutable call tree stored as columns, so that 100,000-node trees merge, serialise and render
 * without an object per node.
 *
 * Node 0 is the root; it has no frame (`frameOf(0) === -1`) and no self weight. Every other node's
 * parent has a smaller index than the node itself, so one backward pass computes totals and one
 * forward pass visits parents before children. Siblings never share a frame.
 *
 * Build one with `CallTreeBuilder` or `deserializeTree`; both check these invariants.
 */
export class CallTree {
  readonly total: WeightColumns;
  private childIndex: Int32Array[] | undefined;

  /** @internal use CallTreeBuilder or deserializeTree. */
  constructor(
    readonly frames: readonly Frame[],
    readonly parents: Int32Array,
    readonly frameIds: Int32Array,
    readonly self: WeightColumns,
  ) {
    const n = parents.length;
    const total = {} as Record<WeightName, Float64Array>;
    for (const name of WEIGHT_NAMES) {
      const t = Float64Array.from(self[name]);
      for (let i = n - 1; i > 0; i--) t[parents[i]!]! += t[i]!;
      total[name] = t;
    }
    this.total = total;
  }

  get size(): number {
    return this.parents.length;
  }

  /** The weights of the whole tree (the root's totals). */
  get totals(): Weights {
    return this.totalOf(0);
  }

  parentOf(node: number): number {
    return this.parents[node]!;
  }

  /** The node's frame index into `frames`, or -1 for the root. */
  frameOf(node: number): number {
    return this.frameIds[node]!;
  }

  frame(node: number): Frame | undefined {
    const f = this.frameIds[node]!;
    return f < 0 ? undefined : this.frames[f];
  }

  selfOf(node: number): Weights {
    return { samples: this.self.samples[node]!, wallUs: this.self.wallUs[node]!, cpuUs: this.self.cpuUs[node]! };
  }

  totalOf(node: number): Weights {
    return { samples: this.total.samples[node]!, wallUs: this.total.wallUs[node]!, cpuUs: this.total.cpuUs[node]! };
  }

  /** Children of a node, in the order they were first seen. */
  children(node: number): Int32Array {
    if (!this.childIndex) this.childIndex = indexChildren(this.parents);
    return this.childIndex[node]!;
  }

  /** Frames from the root's child down to `node`. */
  stackOf(node: number): Frame[] {
    const stack: Frame[] = [];
    for (let i = node; i > 0; i = this.parents[i]!) stack.push(this.frames[this.frameIds[i]!]!);
    return stack.reverse();
  }

  /** Depth of every node (root = 0), computed in one forward pass. */
  depths(): Int32Array {
    const d = new Int32Array(this.size);
    for (let i = 1; i < this.size; i++) d[i] = d[this.parents[i]!]! + 1;
    return d;
  }
}

function indexChildren(parents: Int32Array): Int32Array[] {
  const n = parents.length;
  const counts = new Int32Array(n);
  for (let i = 1; i < n; i++) counts[parents[i]!]!++;
  const lists = new Array<Int32Array>(n);
  for (let i = 0; i < n; i++) lists[i] = new Int32Array(counts[i]!);
  const fill = new Int32Array(n);
  for (let i = 1; i < n; i++) {
    const p = parents[i]!;
    lists[p]![fill[p]!++] = i;
  }
  return lists;
}
