import { CallTree } from './call-tree.js';
import { FRAME_KINDS, type Frame, makeFrame } from './frame.js';

/**
 * The compact form of a call tree for the wire and the store: a string table, a frame table and flat
 * node columns, instead of nested JSON that repeats every function name and file path.
 *
 * Version 1 (since Sonde 0.1):
 * - `strings`: every distinct string once; frames refer to them by index.
 * - `frames`: 5 numbers per frame: name, file (indexes into `strings`), line, column (1-based; 0 =
 *   unknown), kind (index into FRAME_KINDS: code, native, gc, idle, program, synthetic).
 * - `nodes`: 5 numbers per node except the root: parent (0 = the root; node k of this array is node
 *   k+1 of the tree, and a parent always comes before its children), frame index, self samples,
 *   self wall time in µs, self CPU time in µs.
 * - `mapped` (optional, since Sonde 0.3; readers that predate it ignore it): pairs of numbers, a frame
 *   index and the index in `strings` of the compiled file that frame was resolved from through a
 *   source map (Frame.mappedFrom). Each frame at most once.
 * - `starts` (optional, since Sonde 0.4; readers that predate it ignore it): pairs of numbers, a frame
 *   index and the 1-based line where that frame's function begins (Frame.functionLine; for a
 *   source-mapped frame, in the original file). Each frame at most once; a frame not named: unknown.
 */
export interface SerializedTree {
  version: 1;
  strings: string[];
  frames: number[];
  nodes: number[];
  mapped?: number[];
  starts?: number[];
}

/** The largest function start line a reader accepts (a line number, not a count: bounded like one). */
export const MAX_FUNCTION_LINE = 0x7fffffff;

export const SERIALIZED_TREE_VERSION = 1;
const FRAME_WIDTH = 5;
const NODE_WIDTH = 5;
const KIND_INDEX = new Map(FRAME_KINDS.map((k, i) => [k, i]));

/**
 * The string and frame tables of the wire form as they are written: each distinct string once, frames
 * appended in the order given. Shared by `serializeTree` and the agent's direct per-request writer.
 */
export class FrameTableWriter {
  readonly strings: string[] = [];
  readonly frames: number[] = [];
  /** The `mapped` pairs (frame index, string index); empty when no frame came through a source map. */
  readonly mapped: number[] = [];
  /** The `starts` pairs (frame index, function start line); empty when no frame's function start is known. */
  readonly starts: number[] = [];
  private readonly stringIndex = new Map<string, number>();

  /** Appends `f` to the frame table; returns its index there. */
  add(f: Frame): number {
    const i = this.frames.length / FRAME_WIDTH;
    this.frames.push(this.intern(f.name), this.intern(f.file), f.line, f.column, KIND_INDEX.get(f.kind) ?? -1);
    if (f.mappedFrom !== undefined) this.mapped.push(i, this.intern(f.mappedFrom));
    if (f.functionLine !== undefined) this.starts.push(i, f.functionLine);
    return i;
  }

  private intern(s: string): number {
    let i = this.stringIndex.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.stringIndex.set(s, i);
    }
    return i;
  }
}

export function serializeTree(tree: CallTree): SerializedTree {
  const table = new FrameTableWriter();
  for (const f of tree.frames) table.add(f);
  const { strings, frames, mapped, starts } = table;
  const nodes: number[] = new Array((tree.size - 1) * NODE_WIDTH);
  let o = 0;
  for (let i = 1; i < tree.size; i++) {
    nodes[o++] = tree.parents[i]!;
    nodes[o++] = tree.frameIds[i]!;
    nodes[o++] = tree.self.samples[i]!;
    nodes[o++] = round3(tree.self.wallUs[i]!);
    nodes[o++] = round3(tree.self.cpuUs[i]!);
  }
  const out: SerializedTree = { version: 1, strings, frames, nodes };
  if (mapped.length > 0) out.mapped = mapped;
  if (starts.length > 0) out.starts = starts;
  return out;
}

/** Reads the compact form back, checking every invariant; throws a RangeError naming what is wrong. */
export function deserializeTree(data: unknown): CallTree {
  const d = data as Partial<SerializedTree> | null;
  if (!d || typeof d !== 'object') throw new RangeError('tree: expected an object');
  if (d.version !== SERIALIZED_TREE_VERSION) throw new RangeError(`tree: unsupported version ${String(d.version)}`);
  const { strings, frames: frameData, nodes: nodeData } = d;
  if (!Array.isArray(strings) || !Array.isArray(frameData) || !Array.isArray(nodeData)) {
    throw new RangeError('tree: strings, frames and nodes must be arrays');
  }
  if (frameData.length % FRAME_WIDTH !== 0) throw new RangeError('tree: frames length is not a multiple of 5');
  if (nodeData.length % NODE_WIDTH !== 0) throw new RangeError('tree: nodes length is not a multiple of 5');
  const str = (i: unknown): string => {
    if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= strings.length || typeof strings[i] !== 'string') {
      throw new RangeError(`tree: bad string index ${String(i)}`);
    }
    return strings[i];
  };
  const mappedFrom = mappedFiles(d.mapped, frameData.length / FRAME_WIDTH, str);
  const functionLines = functionStarts(d.starts, frameData.length / FRAME_WIDTH);
  const frames: Frame[] = [];
  for (let o = 0; o < frameData.length; o += FRAME_WIDTH) {
    const kind = FRAME_KINDS[frameData[o + 4] as number];
    if (kind === undefined) throw new RangeError(`tree: bad frame kind ${String(frameData[o + 4])}`);
    frames.push(makeFrame(str(frameData[o]), str(frameData[o + 1]), frameData[o + 2] as number, frameData[o + 3] as number, kind, mappedFrom.get(o / FRAME_WIDTH), functionLines.get(o / FRAME_WIDTH)));
  }
  const n = nodeData.length / NODE_WIDTH + 1;
  const parents = new Int32Array(n);
  const frameIds = new Int32Array(n);
  const samples = new Float64Array(n);
  const wallUs = new Float64Array(n);
  const cpuUs = new Float64Array(n);
  parents[0] = -1;
  frameIds[0] = -1;
  for (let i = 1, o = 0; i < n; i++, o += NODE_WIDTH) {
    const p = nodeData[o];
    const f = nodeData[o + 1];
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p >= i) throw new RangeError(`tree: node ${i} has bad parent ${String(p)}`);
    if (typeof f !== 'number' || !Number.isInteger(f) || f < 0 || f >= frames.length) throw new RangeError(`tree: node ${i} has bad frame ${String(f)}`);
    parents[i] = p;
    frameIds[i] = f;
    samples[i] = weight(nodeData[o + 2], i);
    wallUs[i] = weight(nodeData[o + 3], i);
    cpuUs[i] = weight(nodeData[o + 4], i);
  }
  const dup = firstRepeatedSibling(parents, frameIds);
  if (dup > 0) throw new RangeError(`tree: node ${dup} repeats a sibling's frame`);
  return new CallTree(Object.freeze(frames), parents, frameIds, { samples, wallUs, cpuUs });
}

/** The optional `mapped` pairs as frame index → compiled file; each frame at most once, every index in range. */
function mappedFiles(data: unknown, frameCount: number, str: (i: unknown) => string): Map<number, string> {
  const out = new Map<number, string>();
  if (data === undefined) return out;
  if (!Array.isArray(data) || data.length % 2 !== 0) throw new RangeError('tree: mapped must be an array of (frame, string) pairs');
  for (let o = 0; o < data.length; o += 2) {
    const f = data[o];
    if (typeof f !== 'number' || !Number.isInteger(f) || f < 0 || f >= frameCount) throw new RangeError(`tree: mapped names bad frame ${String(f)}`);
    if (out.has(f)) throw new RangeError(`tree: mapped names frame ${f} twice`);
    const file = str(data[o + 1]);
    if (file === '') throw new RangeError(`tree: mapped gives frame ${f} an empty file`);
    out.set(f, file);
  }
  return out;
}

/** The optional `starts` pairs as frame index → function start line; each frame at most once, lines ≥ 1. */
function functionStarts(data: unknown, frameCount: number): Map<number, number> {
  const out = new Map<number, number>();
  if (data === undefined) return out;
  if (!Array.isArray(data) || data.length % 2 !== 0) throw new RangeError('tree: starts must be an array of (frame, line) pairs');
  if (data.length > frameCount * 2) throw new RangeError('tree: starts has more pairs than there are frames');
  for (let o = 0; o < data.length; o += 2) {
    const f = data[o];
    const line = data[o + 1];
    if (typeof f !== 'number' || !Number.isInteger(f) || f < 0 || f >= frameCount) throw new RangeError(`tree: starts names bad frame ${String(f)}`);
    if (out.has(f)) throw new RangeError(`tree: starts names frame ${f} twice`);
    if (typeof line !== 'number' || !Number.isInteger(line) || line < 1 || line > MAX_FUNCTION_LINE) throw new RangeError(`tree: starts gives frame ${f} a bad line ${String(line)}`);
    out.set(f, line);
  }
  return out;
}

/**
 * The first node whose (parent, frame) an earlier node already has, or -1. An open-addressing table
 * of node indexes: a Set of 100,000 composite keys costs several times more.
 */
function firstRepeatedSibling(parents: Int32Array, frameIds: Int32Array): number {
  const n = parents.length;
  let cap = 16;
  while (cap < n * 2) cap *= 2;
  const slots = new Int32Array(cap);
  const mask = cap - 1;
  for (let i = 1; i < n; i++) {
    const p = parents[i]!;
    const f = frameIds[i]!;
    let h = Math.imul(p, 0x9e3779b1) ^ Math.imul(f + 0x7f4a7c15, 0x85ebca77);
    h ^= h >>> 15;
    let s = h & mask;
    for (;;) {
      const v = slots[s]!;
      if (v === 0) {
        slots[s] = i;
        break;
      }
      if (parents[v] === p && frameIds[v] === f) return i;
      s = (s + 1) & mask;
    }
  }
  return -1;
}

function weight(v: unknown, node: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`tree: node ${node} has a bad weight ${String(v)}`);
  return v;
}

/** Weights in µs are kept to a thousandth on the wire. */
export function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
