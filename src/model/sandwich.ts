import type { CallTree } from './call-tree.js';
import { CallTreeBuilder } from './call-tree-builder.js';
import { type Frame, frameKey } from './frame.js';

/** One function seen from both sides: who calls it, and what it calls. */
export interface Sandwich {
  /** The function's index in the source tree's frame table. */
  frameIndex: number;
  /**
   * Inverted: the root's one child is the function; below it its callers, then their callers, up to
   * the top of each stack. Each weight is the function's total under that chain of callers.
   */
  callers: CallTree;
  /** The root's one child is the function; below it everything it calls, merged from every call site. */
  callees: CallTree;
}

/**
 * The sandwich view of one frame (by index into `tree.frames`, or a Frame equal to one). Under
 * recursion each sample counts once: only the outermost call of the function on each stack is used,
 * so both sides' totals equal the function's total in `topHotspots`. A frame the tree does not have
 * gives two empty trees.
 */
export function sandwich(tree: CallTree, frame: number | Frame): Sandwich {
  const target = typeof frame === 'number' ? frame : findFrame(tree, frame);
  if (typeof frame === 'number' && !(frame >= 0 && frame < tree.frames.length)) throw new RangeError(`sandwich: no frame ${frame}`);
  const callers = new CallTreeBuilder();
  const callees = new CallTreeBuilder();
  if (target < 0) return { frameIndex: -1, callers: callers.build(), callees: callees.build() };

  // Outermost occurrences: nodes of the frame with no ancestor of the same frame. A forward pass
  // works because parents come first: `under[i]` says whether the frame is on i's path (inclusive).
  const under = new Uint8Array(tree.size);
  const calleesTop = callees.child(0, callees.internFrame(tree.frames[target]!));
  const calleesMap = new Int32Array(tree.size).fill(-1);
  const { samples, wallUs, cpuUs } = tree.self;
  for (let i = 1; i < tree.size; i++) {
    const p = tree.parents[i]!;
    const isTarget = tree.frameIds[i] === target;
    under[i] = under[p] || isTarget ? 1 : 0;
    if (!under[i]) continue;
    // Callees: copy the subtree below each outermost occurrence under one merged node.
    const node = !under[p] ? calleesTop : callees.child(calleesMap[p]!, callees.internFrame(tree.frames[tree.frameIds[i]!]!));
    calleesMap[i] = node;
    if (samples[i] || wallUs[i] || cpuUs[i]) callees.addSelfValues(node, samples[i]!, wallUs[i]!, cpuUs[i]!);
    if (!under[p]) {
      // Callers: the inverted chain from this occurrence up to the top, weighted by its total.
      let c = callers.child(0, callers.internFrame(tree.frames[target]!));
      for (let v = p; v > 0; v = tree.parents[v]!) c = callers.child(c, callers.internFrame(tree.frames[tree.frameIds[v]!]!));
      callers.addSelfValues(c, tree.total.samples[i]!, tree.total.wallUs[i]!, tree.total.cpuUs[i]!);
    }
  }
  return { frameIndex: target, callers: callers.build(), callees: callees.build() };
}

function findFrame(tree: CallTree, frame: Frame): number {
  const key = frameKey(frame);
  return tree.frames.findIndex((f) => f === frame || frameKey(f) === key);
}
