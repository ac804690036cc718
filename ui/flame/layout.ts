/**
 * Flame-graph geometry, computed once per tree in a few linear passes over typed arrays (no object per
 * node), so a 100,000-node tree lays out in milliseconds. Rendering reads it; it knows nothing of pixels.
 *
 * Children are ordered heaviest first ("left heavy"): the biggest thing under a frame is always its
 * leftmost child, which keeps the eye on what matters and makes two similar trees look alike.
 */
export interface FlameLayout {
  readonly size: number;
  readonly parents: Int32Array;
  /** Width weight of each node (its total). */
  readonly value: Float64Array;
  /** Left edge of each node, in the same units as `value`, relative to the root's left edge. */
  readonly x0: Float64Array;
  readonly depth: Int32Array;
  /** Nodes in pre-order (a node, then its subtrees heaviest first). */
  readonly order: Int32Array;
  /** Pre-order position of each node. */
  readonly pos: Int32Array;
  /** For pre-order position p, the position just after that node's subtree. */
  readonly end: Int32Array;
  /** Children of node i are `kids[kidStart[i] .. kidStart[i+1])`, heaviest first. */
  readonly kidStart: Int32Array;
  readonly kids: Int32Array;
  readonly maxDepth: number;
}

/** Lays out a tree given by parent links (parents[0] = -1, parents[i] < i) and per-node totals. */
export function layoutFlame(parents: Int32Array, value: Float64Array): FlameLayout {
  const n = parents.length;
  const kidStart = new Int32Array(n + 1);
  for (let i = 1; i < n; i++) kidStart[parents[i]! + 1]!++;
  for (let i = 0; i < n; i++) kidStart[i + 1]! += kidStart[i]!;
  const kids = new Int32Array(Math.max(0, n - 1));
  const fill = kidStart.slice(0, n);
  for (let i = 1; i < n; i++) kids[fill[parents[i]!]!++] = i;
  for (let i = 0; i < n; i++) {
    const a = kidStart[i]!;
    const b = kidStart[i + 1]!;
    if (b - a < 2) continue;
    if (b - a > 24) {
      kids.subarray(a, b).sort((p, q) => value[q]! - value[p]! || p - q);
      continue;
    }
    // Most nodes have a handful of children: an in-place insertion sort beats a comparator sort
    // (which allocates a view and calls back per comparison) by several times at 100k nodes.
    for (let k = a + 1; k < b; k++) {
      const c = kids[k]!;
      const v = value[c]!;
      let j = k - 1;
      while (j >= a && (value[kids[j]!]! < v || (value[kids[j]!]! === v && kids[j]! > c))) {
        kids[j + 1] = kids[j]!;
        j--;
      }
      kids[j + 1] = c;
    }
  }

  const order = new Int32Array(n);
  const pos = new Int32Array(n);
  const end = new Int32Array(n);
  const x0 = new Float64Array(n);
  const depth = new Int32Array(n);
  let maxDepth = 0;
  if (n > 0) {
    // Iterative pre-order; a node's `end` is known when the walk passes its last descendant.
    const stack = new Int32Array(n);
    let sp = 0;
    let p = 0;
    stack[sp++] = 0;
    while (sp > 0) {
      const node = stack[--sp]!;
      order[p] = node;
      pos[node] = p++;
      const a = kidStart[node]!;
      const b = kidStart[node + 1]!;
      let x = x0[node]!;
      const d = depth[node]! + 1;
      for (let k = a; k < b; k++) {
        const c = kids[k]!;
        x0[c] = x;
        x += value[c]!;
        depth[c] = d;
      }
      if (b > a && d > maxDepth) maxDepth = d;
      for (let k = b - 1; k >= a; k--) stack[sp++] = kids[k]!;
    }
    // Subtree ends: walk pre-order backwards; a node's subtree ends where its last child's ends.
    for (let q = n - 1; q >= 0; q--) {
      const node = order[q]!;
      const b = kidStart[node + 1]!;
      end[q] = b > kidStart[node]! ? end[pos[kids[b - 1]!]!]! : q + 1;
    }
  }
  return { size: n, parents, value, x0, depth, order, pos, end, kidStart, kids, maxDepth };
}

/** The node's ancestors from the root down to its parent. */
export function ancestorsOf(layout: FlameLayout, node: number): number[] {
  const out: number[] = [];
  for (let p = layout.parents[node]!; p >= 0; p = layout.parents[p]!) out.push(p);
  return out.reverse();
}

/** Whether `node` is `ancestor` or lies in its subtree. */
export function isWithin(layout: FlameLayout, node: number, ancestor: number): boolean {
  const p = layout.pos[node]!;
  const a = layout.pos[ancestor]!;
  return p >= a && p < layout.end[a]!;
}
