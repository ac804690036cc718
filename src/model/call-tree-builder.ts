import { CallTree } from './call-tree.js';
import { type Frame, frameKey } from './frame.js';
import { type Weights, WEIGHT_NAMES, checkWeights } from './weights.js';

/**
 * Accumulates stacks into a call tree. Equal frames are interned once; equal paths share a node, so
 * adding the same stack twice doubles its weight rather than growing the tree.
 */
export class CallTreeBuilder {
  private readonly frames: Frame[] = [];
  private readonly frameIndex = new Map<string, number>();
  private readonly parents: number[] = [-1];
  private readonly frameIds: number[] = [-1];
  private readonly weights = { samples: [0], wallUs: [0], cpuUs: [0] };
  /** Child lookup: key `parent:frame` → node. One map beats a map per node for memory at 100k nodes. */
  private readonly childOf = new Map<number, Map<number, number>>();
  private built = false;

  /** Interns a frame and returns its index in the built tree's frame table. */
  internFrame(frame: Frame): number {
    const key = frameKey(frame);
    let id = this.frameIndex.get(key);
    if (id === undefined) {
      id = this.frames.length;
      this.frames.push(frame);
      this.frameIndex.set(key, id);
    }
    return id;
  }

  /** The child of `parent` for frame id `frameId`, created if missing. Node 0 is the root. */
  child(parent: number, frameId: number): number {
    this.assertOpen();
    if (parent < 0 || parent >= this.parents.length) throw new RangeError(`no node ${parent}`);
    if (frameId < 0 || frameId >= this.frames.length) throw new RangeError(`no frame ${frameId}`);
    let kids = this.childOf.get(parent);
    if (!kids) {
      kids = new Map();
      this.childOf.set(parent, kids);
    }
    let node = kids.get(frameId);
    if (node === undefined) {
      node = this.parents.length;
      this.parents.push(parent);
      this.frameIds.push(frameId);
      for (const name of WEIGHT_NAMES) this.weights[name].push(0);
      kids.set(frameId, node);
    }
    return node;
  }

  /** Adds self weight to a node other than the root. */
  addSelf(node: number, w: Weights): void {
    this.assertOpen();
    if (node <= 0 || node >= this.parents.length) throw new RangeError(`cannot add weight to node ${node}`);
    checkWeights(w, 'self weight');
    for (const name of WEIGHT_NAMES) this.weights[name][node]! += w[name];
  }

  /** Adds one stack, root-most frame first, and charges `w` to its leaf. */
  addStack(stack: readonly Frame[], w: Weights): number {
    if (stack.length === 0) throw new RangeError('a stack needs at least one frame');
    let node = 0;
    for (const frame of stack) node = this.child(node, this.internFrame(frame));
    this.addSelf(node, w);
    return node;
  }

  get size(): number {
    return this.parents.length;
  }

  /** Freezes the builder's content into a CallTree; the builder cannot be used afterwards. */
  build(): CallTree {
    this.assertOpen();
    this.built = true;
    return new CallTree(Object.freeze(this.frames.slice()), Int32Array.from(this.parents), Int32Array.from(this.frameIds), {
      samples: Float64Array.from(this.weights.samples),
      wallUs: Float64Array.from(this.weights.wallUs),
      cpuUs: Float64Array.from(this.weights.cpuUs),
    });
  }

  private assertOpen(): void {
    if (this.built) throw new Error('CallTreeBuilder already built');
  }
}

/** A tree with no samples: the result of a session that profiled nothing. */
export function emptyTree(): CallTree {
  return new CallTreeBuilder().build();
}
