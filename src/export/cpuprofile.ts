import type { CallTree } from '../model/call-tree.js';
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
 * The tree as a Chrome DevTools `.cpuprofile`. A call tree has no time order, so the sample
 * sequence is synthesised, honestly:
 * - each node gets as many samples as it has self samples (at least one if it has self time), in
 *   depth-first order, so DevTools' flame chart shows one block per node rather than a timeline;
 * - each sample lasts until the next (as DevTools and speedscope read them); a node's self time is
 *   spread evenly over its samples, rounded to whole microseconds cumulatively, so each node is
 *   within 1 µs of its own time and the whole profile is exact;
 * - one last sample on "(root)" closes the final real sample's duration; it lasts 0 µs.
 * DevTools' tree views (bottom-up, call tree) weigh every hit alike, so they show sample shares.
 * Lines and columns become 0-based; URLs get stable synthetic script ids.
 */
export function treeToCpuProfile(tree: CallTree, options: CpuProfileExportOptions = {}): CpuProfile {
  const weight = exportWeight(tree, options.weight);
  const totalSamples = tree.total.samples[0]!;
  // The interval the samples stand for, whatever was asked: timestamps then add up to the tree's time.
  const interval = sampleIntervalOf(tree) ?? options.sampleIntervalUs ?? 1000;
  const scriptIds = new Map<string, string>([['', '0']]);
  const nodes: CpuProfileNode[] = new Array(tree.size);
  nodes[0] = {
    id: 1,
    callFrame: { functionName: '(root)', scriptId: '0', url: '', lineNumber: -1, columnNumber: -1 },
    hitCount: 1,
    children: [],
  };
  for (let i = 1; i < tree.size; i++) {
    const f = tree.frames[tree.frameIds[i]!]!;
    let scriptId = scriptIds.get(f.file);
    if (scriptId === undefined) {
      scriptId = String(scriptIds.size);
      scriptIds.set(f.file, scriptId);
    }
    const node: CpuProfileNode = {
      id: i + 1,
      callFrame: {
        functionName: f.name === '(anonymous)' ? '' : f.name,
        scriptId,
        url: exportPath(f.file, options.roots),
        lineNumber: f.line - 1,
        columnNumber: f.column - 1,
      },
      hitCount: 0,
      children: [],
    };
    if (f.kind !== 'code') node.sondeKind = f.kind;
    nodes[i] = node;
    nodes[tree.parents[i]!]!.children!.push(i + 1);
  }

  const samples: number[] = [];
  const timeDeltas: number[] = [];
  const self = tree.self[weight];
  let elapsed = 0; // exact, in µs since startTime
  let lastStamp = 0; // rounded timestamp of the previous sample
  // Depth-first, children in first-seen order: an explicit stack, since trees can be deep.
  const order: number[] = [0];
  while (order.length) {
    const v = order.pop()!;
    const kids = tree.children(v);
    for (let k = kids.length - 1; k >= 0; k--) order.push(kids[k]!);
    if (v === 0) continue;
    const w = self[v]!;
    let ticks = Math.round(tree.self.samples[v]!);
    if (ticks === 0 && w > 0) ticks = 1;
    if (ticks === 0) continue;
    const per = weight === 'samples' ? interval * (w / ticks) : w / ticks;
    nodes[v]!.hitCount = ticks;
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
