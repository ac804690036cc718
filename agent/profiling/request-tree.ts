import { CallTreeBuilder } from '../../src/model/call-tree-builder.js';
import { type Frame, FRAME_KINDS, frameKey, SYNTHETIC } from '../../src/model/frame.js';
import { pruneTree } from '../../src/model/prune.js';
import { FrameTableWriter, round3, type SerializedTree, serializeTree } from '../../src/model/serialized.js';
import type { RawSample } from '../sampler/profile-samples.js';

/** A request's waiting and held-up time, in samples and µs. */
export interface WaitTally {
  waitingSamples: number;
  waitingUs: number;
  blockedSamples: number;
  blockedUs: number;
}

/** Per-request trees are capped so one pathological request cannot blow the message size limit. */
export const MAX_REQUEST_TREE_NODES = 5000;


/**
 * A finished request's tree in the wire form, built straight from its samples: its own stacks, plus its
 * waiting and held-up time as synthetic frames. Built directly rather than through CallTreeBuilder and
 * serializeTree because it runs once per profiled request, on the app's thread; at 10 ms sampling most
 * requests have no sample of their own and this is a handful of array pushes. The output is the same
 * format `deserializeTree` checks. `settle` (Sampler.settle) gives a frame its function's start when it
 * was sampled before the start was known and is known now.
 */
export function serializeRequestTree(own: readonly RawSample[], r: WaitTally, settle?: (f: Frame) => Frame): SerializedTree {
  if (own.length === 0) return syntheticOnly(r);
  const table = new FrameTableWriter();
  const frameIndex = new Map<Frame, number>();
  const frameByKey = new Map<string, number>();
  const nodes: number[] = [];
  // Child lookup keyed by parent and frame packed in one number (parent · 2^20 + frame).
  const childOf = new Map<number, number>();

  const frameId = (f: Frame): number => {
    let i = frameIndex.get(f);
    if (i !== undefined) return i;
    // Equal frames may be distinct objects (collected in different batches): one entry per value.
    const key = frameKey(f);
    i = frameByKey.get(key);
    if (i === undefined) {
      i = table.add(settle === undefined ? f : settle(f));
      frameByKey.set(key, i);
    }
    frameIndex.set(f, i);
    return i;
  };
  const add = (stack: readonly Frame[], samples: number, wallUs: number, cpuUs: number): void => {
    let parent = 0;
    for (const f of stack) {
      const key = parent * 1_048_576 + frameId(f);
      let node = childOf.get(key);
      if (node === undefined) {
        node = nodes.length / 5 + 1;
        nodes.push(parent, frameId(f), 0, 0, 0);
        childOf.set(key, node);
      }
      parent = node;
    }
    const o = (parent - 1) * 5;
    nodes[o + 2]! += samples;
    nodes[o + 3]! += wallUs;
    nodes[o + 4]! += cpuUs;
  };

  for (const s of own) add(s.stack.length > 0 ? s.stack : [SYNTHETIC.program], s.weight, s.wallUs, s.cpuUs);
  if (r.waitingSamples > 0) add([SYNTHETIC.waiting], r.waitingSamples, r.waitingUs, 0);
  if (r.blockedSamples > 0) add([SYNTHETIC.otherWork], r.blockedSamples, r.blockedUs, 0);
  for (let o = 3; o < nodes.length; o += 5) {
    nodes[o] = round3(nodes[o]!);
    nodes[o + 1] = round3(nodes[o + 1]!);
  }
  if (nodes.length / 5 + 1 > MAX_REQUEST_TREE_NODES) return prunedTree(own, r);
  const tree: SerializedTree = { version: 1, strings: table.strings, frames: table.frames, nodes };
  if (table.mapped.length > 0) tree.mapped = table.mapped;
  if (table.starts.length > 0) tree.starts = table.starts;
  return tree;
}

const WAITING_KIND = FRAME_KINDS.indexOf('synthetic');

/** The common case at coarse intervals: no sample of the request's own code, only its waiting and held-up time. */
function syntheticOnly(r: WaitTally): SerializedTree {
  const strings: string[] = [''];
  const frames: number[] = [];
  const nodes: number[] = [];
  if (r.waitingSamples > 0) {
    strings.push(SYNTHETIC.waiting.name);
    frames.push(strings.length - 1, 0, 0, 0, WAITING_KIND);
    nodes.push(0, frames.length / 5 - 1, r.waitingSamples, round3(r.waitingUs), 0);
  }
  if (r.blockedSamples > 0) {
    strings.push(SYNTHETIC.otherWork.name);
    frames.push(strings.length - 1, 0, 0, 0, WAITING_KIND);
    nodes.push(0, frames.length / 5 - 1, r.blockedSamples, round3(r.blockedUs), 0);
  }
  return { version: 1, strings, frames, nodes };
}

/** The rare huge request: build, prune (weight kept as "(pruned)"), serialise. */
function prunedTree(own: readonly RawSample[], r: WaitTally): SerializedTree {
  const b = new CallTreeBuilder();
  for (const s of own) b.addStack(s.stack.length > 0 ? s.stack : [SYNTHETIC.program], { samples: s.weight, wallUs: s.wallUs, cpuUs: s.cpuUs });
  if (r.waitingSamples > 0) b.addStack([SYNTHETIC.waiting], { samples: r.waitingSamples, wallUs: r.waitingUs, cpuUs: 0 });
  if (r.blockedSamples > 0) b.addStack([SYNTHETIC.otherWork], { samples: r.blockedSamples, wallUs: r.blockedUs, cpuUs: 0 });
  return serializeTree(pruneTree(b.build(), { maxNodes: MAX_REQUEST_TREE_NODES }));
}
