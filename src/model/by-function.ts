import type { CallTree } from './call-tree.js';
import { CallTreeBuilder } from './call-tree-builder.js';
import { type Frame, makeFrame, withFunctionLine } from './frame.js';
import type { Weights } from './weights.js';

/**
 * Agents count frames per source line that ran (shared/ARCHITECTURE.md), so one function that was
 * sampled at lines 24 and 34 is two frames. Tables and graphs answer "which function", so they
 * aggregate here; the lines stay as detail (tooltips, the sandwich's line list, pprof `Line`s).
 *
 * A function is (kind, name, file, start line) where the agent reported the start (Frame.functionLine,
 * the wire's `starts`, Sonde 0.4): two `handler`s of one file, or the `get` methods of two classes of
 * one module, stay apart, and the aggregated frame's line is the function's start line. Where the
 * start is unknown (older agents, frames V8 could not place), a function is (kind, name, file) and its
 * line is the smallest line sampled in it (the closest to its start that is known). Names that do not
 * tell functions of one file apart (anonymous functions, lambdas) keep their sampled line in the key
 * when no start is known: merging every anonymous function of a file would invent a function. In a
 * tree where some frames of a (kind, name, file) have starts and others not (trees of an older and a
 * newer agent merged, or compared), a named frame without one joins the function that begins last at
 * or before its line.
 */
const UNNAMED = new Set(['(anonymous)', '<lambda>', '<genexpr>', '<listcomp>', '<dictcomp>', '<setcomp>']);

/** The identity of a frame's function: equal for the lines of one function. */
export function functionKey(frame: Frame): string {
  if (frame.functionLine !== undefined && frame.file !== '') return `${frame.kind}\u0000${frame.name}\u0000${frame.file}\u0000f${frame.functionLine}`;
  const line = frame.kind !== 'code' || UNNAMED.has(frame.name) || frame.file === '' ? `${frame.line}\u0000${frame.column}` : '';
  return `${frame.kind}\u0000${frame.name}\u0000${frame.file}\u0000${line}`;
}

/**
 * The model's cross-tree rule (knownStarts) for readers that keep function keys rather than frames
 * (the store's cluster-wide hotspots, which sum stored per-function weights): of `keys`, each without a
 * start whose kind, name and file also have keys with starts joins the one that begins last at or
 * before `lines[i]`, the line it was sampled at. Returns key index → the key it joins. A key without a
 * start ends in an empty field only for a named code frame with a file (functionKey), the frames
 * knownStarts joins; a key with one ends in `f<line>`.
 */
export function joinKeysToStarts(keys: readonly string[], lines: readonly number[]): Map<number, string> {
  const starts = new Map<string, number[]>();
  const startless: number[] = [];
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const cut = key.lastIndexOf('\u0000');
    if (cut === key.length - 1) {
      startless.push(i);
      continue;
    }
    const start = START_FIELD.test(key.slice(cut + 1)) ? Number(key.slice(cut + 2)) : 0;
    if (start === 0) continue;
    const base = key.slice(0, cut);
    const known = starts.get(base);
    if (!known) starts.set(base, [start]);
    else if (!known.includes(start)) known.push(start);
  }
  const out = new Map<number, string>();
  if (starts.size === 0) return out;
  for (const i of startless) {
    const base = keys[i]!.slice(0, -1);
    const known = starts.get(base);
    const best = known ? startFor(known, lines[i]!) : 0;
    if (best > 0) out.set(i, `${base}\u0000f${best}`);
  }
  return out;
}

/** The last field of a functionKey that holds a start line. */
const START_FIELD = /^f[1-9][0-9]*$/;

/** Of the start lines of same-named functions, the one a line sampled at `line` is in: the last at or before it; 0 if none (or the line is unknown). */
function startFor(starts: readonly number[], line: number): number {
  let best = 0;
  if (line > 0) for (const s of starts) if (s <= line && s > best) best = s;
  return best;
}

/** One source line of a function and its weight. */
export interface LineWeight {
  line: number;
  self: Weights;
  total: Weights;
}

/** A tree whose nodes are functions, with the lines each merges. */
export interface FunctionTree {
  /** The aggregated tree: siblings of one function are one node; frames are functions. */
  tree: CallTree;
  /** For each frame of the source tree, its function's frame index in `tree`. */
  functionOf: Int32Array;
  /**
   * Per node of `tree`, the lines it merges (ascending), each with the weight of that line's part;
   * empty when the node merged one line only and that line is the one its frame shows.
   */
  nodeLines(node: number): readonly LineWeight[];
  /** Per frame of `tree`, the lines sampled in that function over the whole tree (self weight only). */
  frameLines(frame: number): readonly LineWeight[];
}

const ZERO: readonly LineWeight[] = Object.freeze([]);

export interface ByFunctionOptions {
  /**
   * Frames of other trees this one is compared with (a differential view): a function's line is the
   * smallest over these too, so one function gets the same frame on both sides.
   */
  alsoLinesOf?: readonly Frame[];
}

/** A function's frame as the aggregated tree shows it: at its start line, column unknown, when the start is known. */
function functionFrame(frame: Frame): Frame {
  if (frame.functionLine === undefined || frame.file === '') return frame;
  if (frame.line === frame.functionLine && frame.column === 0) return frame;
  return makeFrame(frame.name, frame.file, frame.functionLine, 0, frame.kind, frame.mappedFrom, frame.functionLine);
}

/**
 * Frames without a start whose (kind, name, file) has known starts elsewhere in the tree (a merge of
 * trees from an older and a newer agent) join the function that begins last at or before their line:
 * the one they are in, when functions of that name do not nest. Named code frames only: for anonymous
 * functions that guess would merge distinct ones. Returns the frame itself otherwise. The store's
 * cluster-wide hotspots apply the same rule to stored keys (joinKeysToStarts).
 */
function knownStarts(frames: readonly Frame[], more: readonly Frame[] | undefined): (frame: Frame) => Frame {
  const starts = new Map<string, number[]>();
  const base = (f: Frame): string => `${f.kind}\u0000${f.name}\u0000${f.file}`;
  for (const list of [frames, more ?? []]) {
    for (const f of list) {
      if (f.functionLine === undefined || f.file === '') continue;
      const k = base(f);
      const known = starts.get(k);
      if (!known) starts.set(k, [f.functionLine]);
      else if (!known.includes(f.functionLine)) known.push(f.functionLine);
    }
  }
  if (starts.size === 0) return (f) => f;
  return (f) => {
    if (f.functionLine !== undefined || f.kind !== 'code' || f.file === '' || f.line === 0 || UNNAMED.has(f.name)) return f;
    const known = starts.get(base(f));
    if (!known) return f;
    const best = startFor(known, f.line);
    return best > 0 ? withFunctionLine(f, best) : f;
  };
}

/**
 * Aggregates a call tree by function in O(nodes): each source frame maps to its function's frame,
 * and the tree is rebuilt so that one parent's children of one function become one node. Weights
 * are exact: each merged node's totals are the sums of the nodes it merges.
 */
export function byFunction(tree: CallTree, options: ByFunctionOptions = {}): FunctionTree {
  // The function frames: one per key, at its start line where known, else at the smallest line any of its frames has.
  const keyIndex = new Map<string, number>();
  const groupOf = new Int32Array(tree.frames.length);
  const groupFrames: Frame[] = [];
  const groupLines: number[] = [];
  const startOf = knownStarts(tree.frames, options.alsoLinesOf);
  for (let f = 0; f < tree.frames.length; f++) {
    const frame = startOf(tree.frames[f]!);
    const key = functionKey(frame);
    let g = keyIndex.get(key);
    if (g === undefined) {
      g = groupFrames.length;
      keyIndex.set(key, g);
      groupFrames.push(functionFrame(frame));
      groupLines.push(1);
    } else {
      groupLines[g]!++;
      const first = groupFrames[g]!;
      if (first.functionLine === undefined && frame.line > 0 && (first.line === 0 || frame.line < first.line)) groupFrames[g] = makeFrame(first.name, first.file, frame.line, 0, first.kind, first.mappedFrom);
    }
    groupOf[f] = g;
  }
  for (const other of options.alsoLinesOf ?? []) {
    const frame = startOf(other);
    const g = keyIndex.get(functionKey(frame));
    const first = g === undefined ? undefined : groupFrames[g]!;
    if (first && first.functionLine === undefined && frame.line > 0 && (first.line === 0 || frame.line < first.line)) groupFrames[g!] = makeFrame(first.name, first.file, frame.line, 0, first.kind, first.mappedFrom);
  }

  const builder = new CallTreeBuilder();
  const groupIds = groupFrames.map((fr) => builder.internFrame(fr));
  const functionOf = new Int32Array(tree.frames.length);
  for (let f = 0; f < tree.frames.length; f++) functionOf[f] = groupIds[groupOf[f]!]!;
  const nodeMap = new Int32Array(tree.size);
  const { samples, wallUs, cpuUs } = tree.self;
  for (let i = 1; i < tree.size; i++) {
    const node = builder.child(nodeMap[tree.parents[i]!]!, functionOf[tree.frameIds[i]!]!);
    nodeMap[i] = node;
    if (samples[i] || wallUs[i] || cpuUs[i]) builder.addSelfValues(node, samples[i]!, wallUs[i]!, cpuUs[i]!);
  }
  const out = builder.build();

  // Line detail, only for functions seen at more than one line. The source nodes merged into one
  // node are never ancestors of each other (their parents merged first), so totals add exactly.
  const perNode = new Map<number, Map<number, LineWeight>>();
  const perFrame = new Map<number, Map<number, LineWeight>>();
  const add = (map: Map<number, Map<number, LineWeight>>, at: number, line: number, self: Weights, total: Weights): void => {
    let lines = map.get(at);
    if (!lines) map.set(at, (lines = new Map()));
    let lw = lines.get(line);
    if (!lw) lines.set(line, (lw = { line, self: { samples: 0, wallUs: 0, cpuUs: 0 }, total: { samples: 0, wallUs: 0, cpuUs: 0 } }));
    for (const k of ['samples', 'wallUs', 'cpuUs'] as const) {
      lw.self[k] += self[k];
      lw.total[k] += total[k];
    }
  };
  const none: Weights = { samples: 0, wallUs: 0, cpuUs: 0 };
  for (let i = 1; i < tree.size; i++) {
    const f = tree.frameIds[i]!;
    const g = groupOf[f]!;
    // A function seen at one line has nothing to break down, unless that line is not the one shown (its start).
    if (groupLines[g]! < 2 && tree.frames[f]!.line === groupFrames[g]!.line) continue;
    const line = tree.frames[f]!.line;
    const self = tree.selfOf(i);
    add(perNode, nodeMap[i]!, line, self, tree.totalOf(i));
    add(perFrame, functionOf[f]!, line, self, none);
  }
  const sorted = (map: Map<number, Map<number, LineWeight>>, at: number, shownLine: number): readonly LineWeight[] => {
    const lines = map.get(at);
    if (!lines || (lines.size === 1 && lines.has(shownLine))) return ZERO;
    return [...lines.values()].sort((a, b) => a.line - b.line);
  };
  return {
    tree: out,
    functionOf,
    nodeLines: (node) => (node > 0 && node < out.size ? sorted(perNode, node, out.frames[out.frameIds[node]!]!.line) : ZERO),
    frameLines: (frame) => (frame >= 0 && frame < out.frames.length ? sorted(perFrame, frame, out.frames[frame]!.line) : ZERO),
  };
}
