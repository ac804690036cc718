import { CallTree } from './call-tree.js';
import type { Frame } from './frame.js';
import { type Weights, checkWeights } from './weights.js';

const INITIAL_NODES = 64;

/**
 * Accumulates stacks into a call tree. Equal frames are interned once; equal paths share a node, so
 * adding the same stack twice doubles its weight rather than growing the tree.
 *
 * Nodes live in growable typed columns and the child index is one open-addressing hash table keyed
 * by (parent, frame): merging 1,000 trees of 5,000 nodes does no allocation per node.
 */
export class CallTreeBuilder {
  private readonly frames: Frame[] = [];
  /**
   * Frame lookup by name, then file, then a short list to scan for line, column and kind: no key
   * string is built per lookup, and V8 caches each string's hash.
   */
  private readonly frameIndex = new Map<string, Map<string, number[]>>();
  private n = 1;
  private parents = new Int32Array(INITIAL_NODES);
  private frameIds = new Int32Array(INITIAL_NODES);
  private samples = new Float64Array(INITIAL_NODES);
  private wallUs = new Float64Array(INITIAL_NODES);
  private cpuUs = new Float64Array(INITIAL_NODES);
  /** Hash slots hold node + 1 (0 = empty); the key is read back from the node's columns. */
  private slots = new Int32Array(INITIAL_NODES * 2);
  private mask = INITIAL_NODES * 2 - 1;
  private built = false;

  constructor() {
    this.parents[0] = -1;
    this.frameIds[0] = -1;
  }

  /** Interns a frame and returns its index in the built tree's frame table. */
  internFrame(frame: Frame): number {
    let byFile = this.frameIndex.get(frame.name);
    if (!byFile) {
      byFile = new Map();
      this.frameIndex.set(frame.name, byFile);
    }
    let ids = byFile.get(frame.file);
    if (!ids) {
      ids = [];
      byFile.set(frame.file, ids);
    }
    for (const id of ids) {
      const f = this.frames[id]!;
      if (f === frame) return id;
      if (f.line === frame.line && f.column === frame.column && f.kind === frame.kind) {
        // One place, one frame; a tree that knows the function's start line (a newer agent) tells it to the merge.
        if (f.functionLine === undefined && frame.functionLine !== undefined) this.frames[id] = frame;
        return id;
      }
    }
    const id = this.frames.length;
    this.frames.push(frame);
    ids.push(id);
    return id;
  }

  /** The child of `parent` for frame id `frameId`, created if missing. Node 0 is the root. */
  child(parent: number, frameId: number): number {
    this.assertOpen();
    // `(x | 0) === x` rejects fractions, which the Int32 columns would silently truncate.
    if (!(parent >= 0 && parent < this.n) || (parent | 0) !== parent) throw new RangeError(`no node ${parent}`);
    if (!(frameId >= 0 && frameId < this.frames.length) || (frameId | 0) !== frameId) throw new RangeError(`no frame ${frameId}`);
    return this.childUnchecked(parent, frameId);
  }

  /** Adds self weight to a node other than the root. */
  addSelf(node: number, w: Weights): void {
    this.assertOpen();
    if (!(node > 0 && node < this.n)) throw new RangeError(`cannot add weight to node ${node}`);
    checkWeights(w, 'self weight');
    this.samples[node]! += w.samples;
    this.wallUs[node]! += w.wallUs;
    this.cpuUs[node]! += w.cpuUs;
  }

  /**
   * Adds self weight given as three numbers, for hot loops that would otherwise allocate a Weights
   * object per node. Same checks as `addSelf`.
   */
  addSelfValues(node: number, samples: number, wallUs: number, cpuUs: number): void {
    this.assertOpen();
    if (!(node > 0 && node < this.n)) throw new RangeError(`cannot add weight to node ${node}`);
    if (!(samples >= 0 && wallUs >= 0 && cpuUs >= 0 && samples + wallUs + cpuUs < Infinity)) {
      checkWeights({ samples, wallUs, cpuUs }, 'self weight');
    }
    this.samples[node]! += samples;
    this.wallUs[node]! += wallUs;
    this.cpuUs[node]! += cpuUs;
  }

  /**
   * Adds every node of `tree` under `under` (the root by default) and returns, for each node of
   * `tree`, the node it became here. Weights are copied without re-checking: a CallTree's are valid.
   */
  addTree(tree: CallTree, under = 0): Int32Array {
    this.assertOpen();
    if (!(under >= 0 && under < this.n) || (under | 0) !== under) throw new RangeError(`no node ${under}`);
    const frameMap = new Int32Array(tree.frames.length);
    for (let f = 0; f < tree.frames.length; f++) frameMap[f] = this.internFrame(tree.frames[f]!);
    const size = tree.size;
    const nodeMap = new Int32Array(size);
    nodeMap[0] = under;
    const { parents, frameIds } = tree;
    const { samples, wallUs, cpuUs } = tree.self;
    for (let i = 1; i < size; i++) {
      const node = this.childUnchecked(nodeMap[parents[i]!]!, frameMap[frameIds[i]!]!);
      nodeMap[i] = node;
      this.samples[node]! += samples[i]!;
      this.wallUs[node]! += wallUs[i]!;
      this.cpuUs[node]! += cpuUs[i]!;
    }
    return nodeMap;
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
    return this.n;
  }

  /** Freezes the builder's content into a CallTree; the builder cannot be used afterwards. */
  build(): CallTree {
    this.assertOpen();
    this.built = true;
    const n = this.n;
    return new CallTree(Object.freeze(this.frames.slice()), this.parents.slice(0, n), this.frameIds.slice(0, n), {
      samples: this.samples.slice(0, n),
      wallUs: this.wallUs.slice(0, n),
      cpuUs: this.cpuUs.slice(0, n),
    });
  }

  private childUnchecked(parent: number, frameId: number): number {
    const mask = this.mask;
    let s = hash(parent, frameId) & mask;
    for (;;) {
      const v = this.slots[s]!;
      if (v === 0) break;
      const node = v - 1;
      if (this.parents[node] === parent && this.frameIds[node] === frameId) return node;
      s = (s + 1) & mask;
    }
    const node = this.n;
    if (node === this.parents.length) this.grow();
    this.parents[node] = parent;
    this.frameIds[node] = frameId;
    this.n = node + 1;
    if (this.n * 2 > this.slots.length) this.rehash();
    else this.slots[s] = node + 1;
    return node;
  }

  private grow(): void {
    const cap = this.parents.length * 2;
    this.parents = growInt(this.parents, cap);
    this.frameIds = growInt(this.frameIds, cap);
    this.samples = growFloat(this.samples, cap);
    this.wallUs = growFloat(this.wallUs, cap);
    this.cpuUs = growFloat(this.cpuUs, cap);
  }

  /** Doubles the table and reinserts every node but the root (which is nobody's child). */
  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let node = 1; node < this.n; node++) {
      let s = hash(this.parents[node]!, this.frameIds[node]!) & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = node + 1;
    }
    this.slots = slots;
    this.mask = mask;
  }

  private assertOpen(): void {
    if (this.built) throw new Error('CallTreeBuilder already built');
  }
}

function hash(parent: number, frameId: number): number {
  let h = Math.imul(parent, 0x9e3779b1) ^ Math.imul(frameId + 0x7f4a7c15, 0x85ebca77);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 13);
}

function growInt(a: Int32Array, cap: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(cap);
  b.set(a);
  return b;
}

function growFloat(a: Float64Array, cap: number): Float64Array<ArrayBuffer> {
  const b = new Float64Array(cap);
  b.set(a);
  return b;
}

/** A tree with no samples: the result of a session that profiled nothing. */
export function emptyTree(): CallTree {
  return new CallTreeBuilder().build();
}
