import { functionKey } from '../model/by-function.js';
import type { CallTree } from '../model/call-tree.js';
import type { Frame } from '../model/frame.js';
import { type AppRoots, exportPath } from '../model/source-path.js';
import type { WeightName } from '../model/weights.js';
import type { CpuProfile, CpuProfileNode } from './cpuprofile-format.js';
import { exportWeight, sampleIntervalOf } from './options.js';

export interface CpuProfileExportOptions {
  /** The time the samples are spaced by. Default: wall time if the tree has any, else samples. */
  weight?: WeightName;
  /** Spacing of samples when `weight` is 'samples'. Default: the tree's wall time per sample, else 1000. */
  sampleIntervalUs?: number;
  /** startTime in ms since the epoch. Default 0 (a profile's times are only compared with each other). */
  startTimeMs?: number;
  /** The apps' roots (`hello.agent.root` of the agents that reported the tree): files inside one are written relative to it (source-path.ts). */
  roots?: AppRoots;
}

/**
 * The tree as a Chrome DevTools `.cpuprofile`, shaped as V8 writes one:
 * - One node per function (per calling node) where the tree knows the function's start line
 *   (`Frame.functionLine`): its `callFrame.lineNumber` is that start (0-based, V8's rule: a call
 *   frame's position is the function's, not the sampled line's), its column the one its frames have
 *   on that line (-1 if none was sampled there: the start's column is not known), and the lines
 *   sampled in it go in `positionTicks: [{line, ticks}]` (1-based, as the protocol's
 *   `PositionTickInfo` says; always present on such a node, empty when the function only called
 *   others, which is what tells a reader, ours included, that the line is a start). The lines that
 *   called a child are lost, as in V8's own profiles: a child hangs under its caller's function.
 *   Frames without a known start (older agents, native code, synthetic frames) keep one node per
 *   frame, at the sampled line, with no `positionTicks`.
 * - A call tree has no time order, so the sample sequence is synthesised, honestly: each node gets as
 *   many samples as its lines have self samples (at least one per line with self time), in
 *   depth-first order, so DevTools' flame chart shows one block per node rather than a timeline;
 * - each sample lasts until the next (as DevTools and speedscope read them); a node's self time is
 *   spread evenly over its samples, rounded to whole microseconds cumulatively, so each node is
 *   within 1 µs of its own time and the whole profile is exact;
 * - one last sample on "(root)" closes the final real sample's duration; it lasts 0 µs.
 * DevTools' tree views (bottom-up, call tree) weigh every hit alike, so they show sample shares; its
 * Sources panel and VS Code's profile viewer put `positionTicks` beside the source lines; speedscope
 * ignores them and keys a frame by name, URL, line and column, so it shows one frame per function.
 * Node ids are 1..n in array order (VS Code's viewer indexes nodes by sample id − 1).
 * Lines and columns become 0-based; URLs get stable synthetic script ids.
 */
export function treeToCpuProfile(tree: CallTree, options: CpuProfileExportOptions = {}): CpuProfile {
  const weight = exportWeight(tree, options.weight);
  // The interval the samples stand for, whatever was asked: timestamps then add up to the tree's time.
  const interval = sampleIntervalOf(tree) ?? options.sampleIntervalUs ?? 1000;
  const scriptIds = new Map<string, string>([['', '0']]);
  const { groupOf, startColumn } = functionGroups(tree);
  const nodes: CpuProfileNode[] = [
    { id: 1, callFrame: { functionName: '(root)', scriptId: '0', url: '', lineNumber: -1, columnNumber: -1 }, hitCount: 1, children: [] },
  ];
  // Per exported node (index = id - 1): its self weight.
  const selfWeight: number[] = [0];
  const exported = new Int32Array(tree.size); // tree node → exported index
  // Siblings never share a frame, so only where frames share a group can two tree nodes become one:
  // then a child is found by (exported parent, group), a number, since string keys cost 3× the export.
  const merging = groupOf.some((g, f) => g !== f);
  const groups = tree.frames.length;
  const childOf = new Map<number, number>();
  const self = tree.self[weight];
  for (let i = 1; i < tree.size; i++) {
    const fi = tree.frameIds[i]!;
    const f = tree.frames[fi]!;
    const parent = exported[tree.parents[i]!]!;
    const group = groupOf[fi]!;
    let v = merging ? childOf.get(parent * groups + group) : undefined;
    const atStart = isFunctionFrame(f);
    if (v === undefined) {
      v = nodes.length;
      if (merging) childOf.set(parent * groups + group, v);
      let scriptId = scriptIds.get(f.file);
      if (scriptId === undefined) {
        scriptId = String(scriptIds.size);
        scriptIds.set(f.file, scriptId);
      }
      const node: CpuProfileNode = {
        id: v + 1,
        callFrame: {
          functionName: f.name === '(anonymous)' ? '' : f.name,
          scriptId,
          url: exportPath(f.file, options.roots),
          lineNumber: (atStart ? f.functionLine! : f.line) - 1,
          columnNumber: (atStart ? startColumn[group]! : f.column) - 1,
        },
        hitCount: 0,
        children: [],
      };
      if (atStart) node.positionTicks = [];
      if (f.kind !== 'code') node.sondeKind = f.kind;
      nodes.push(node);
      selfWeight.push(0);
      nodes[parent]!.children!.push(v + 1);
    }
    exported[i] = v;
    const w = self[i]!;
    let ticks = Math.round(tree.self.samples[i]!);
    if (ticks === 0 && w > 0) ticks = 1;
    if (ticks === 0) continue;
    selfWeight[v]! += w;
    nodes[v]!.hitCount! += ticks;
    // A line V8 could not place (0) has no entry, as in V8's own profiles; its ticks still count in hitCount.
    const list = nodes[v]!.positionTicks;
    if (!list || f.line === 0) continue;
    let k = 0;
    while (k < list.length && list[k]!.line !== f.line) k++;
    if (k < list.length) list[k]!.ticks += ticks;
    else list.push({ line: f.line, ticks });
  }
  for (const n of nodes) if (n.positionTicks && n.positionTicks.length > 1) n.positionTicks.sort((a, b) => a.line - b.line);
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  let elapsed = 0; // exact, in µs since startTime
  let lastStamp = 0; // rounded timestamp of the previous sample
  // Depth-first, children in first-seen order: an explicit stack, since trees can be deep.
  const order: number[] = [0];
  while (order.length) {
    const v = order.pop()!;
    const kids = nodes[v]!.children!;
    for (let k = kids.length - 1; k >= 0; k--) order.push(kids[k]! - 1);
    if (v === 0) continue;
    const ticks = nodes[v]!.hitCount!;
    if (ticks === 0) continue;
    const w = selfWeight[v]!;
    const per = weight === 'samples' ? interval * (w / ticks) : w / ticks;
    for (let t = 0; t < ticks; t++) {
      const stamp = Math.round(elapsed);
      samples.push(v + 1);
      timeDeltas.push(stamp - lastStamp);
      lastStamp = stamp;
      elapsed += per;
    }
  }
  const end = Math.round(elapsed);
  samples.push(1);
  timeDeltas.push(end - lastStamp);
  const startTime = Math.round((options.startTimeMs ?? 0) * 1000);
  for (const n of nodes) if (n.children!.length === 0) delete n.children;
  return { nodes, startTime, endTime: startTime + end, samples, timeDeltas };
}

/** True for a frame exported as its function (V8's shape): its start line is known and it has a file. */
function isFunctionFrame(f: Frame): boolean {
  return f.functionLine !== undefined && f.file !== '';
}

/**
 * For each frame of the tree, the group its node is exported as: the frames of one function (by
 * `functionKey`, which holds the start line) share one; every other frame is a group of its own.
 * Per group, the 1-based column of its leftmost frame on the start line (0 if none): a frame read from
 * V8's own profile sits there at the function's position, so a V8 profile round-trips exactly.
 */
function functionGroups(tree: CallTree): { groupOf: Int32Array; startColumn: Int32Array } {
  const groupOf = new Int32Array(tree.frames.length);
  const startColumn = new Int32Array(tree.frames.length);
  const byKey = new Map<string, number>();
  for (let f = 0; f < tree.frames.length; f++) {
    const frame = tree.frames[f]!;
    if (!isFunctionFrame(frame)) {
      groupOf[f] = f;
      continue;
    }
    const key = functionKey(frame);
    let g = byKey.get(key);
    if (g === undefined) byKey.set(key, (g = f));
    groupOf[f] = g;
    if (frame.line === frame.functionLine && frame.column > 0 && (startColumn[g] === 0 || frame.column < startColumn[g]!)) startColumn[g] = frame.column;
  }
  return { groupOf, startColumn };
}
