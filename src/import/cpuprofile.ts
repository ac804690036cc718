import { CallTreeBuilder } from '../model/call-tree-builder.js';
import type { CallTree } from '../model/call-tree.js';
import { FRAME_KINDS, type Frame, type FrameKind, makeFrame } from '../model/frame.js';
import type { CpuProfile, CpuProfileNode } from '../export/cpuprofile-format.js';
import { inferFrameKind } from './frame-kind.js';

/**
 * Reads a Chrome DevTools / V8 `.cpuprofile` (parsed JSON) into a call tree.
 * - V8's 0-based lines and columns become 1-based here, once; -1 (unknown) becomes 0.
 * - "(root)" is the tree's root, not a frame; "(idle)", "(garbage collector)" and "(program)" get
 *   their kinds; functions with no script (script id 0, no URL) are native.
 * - Samples: each sample's wall time lasts until the next one (the last: until endTime), as
 *   DevTools reads them. Without a sample list, hit counts spread the duration evenly.
 * - A node with `positionTicks` (V8 writes them for every node with hits; Sonde's export for functions
 *   whose start it knows) is a function at its start line: its frame gets that `functionLine`, and its
 *   self samples go to one frame per sampled line (the model's shape), in the ticks' shares.
 * CPU time is not in the format: cpuUs stays 0.
 */
export function cpuprofileToTree(input: unknown): CallTree {
  const profile = input as Partial<CpuProfile> | null;
  if (!profile || typeof profile !== 'object' || !Array.isArray(profile.nodes)) throw new RangeError('cpuprofile: expected an object with a nodes array');
  const byId = new Map<number, CpuProfileNode>();
  for (const [i, n] of profile.nodes.entries()) {
    if (!n || typeof n !== 'object' || typeof n.id !== 'number' || !n.callFrame || typeof n.callFrame !== 'object') {
      throw new RangeError(`cpuprofile: node ${i} has no id or callFrame`);
    }
    if (byId.has(n.id)) throw new RangeError(`cpuprofile: node id ${n.id} appears twice`);
    byId.set(n.id, n);
  }
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) {
    for (const c of n.children ?? []) {
      if (!byId.has(c)) throw new RangeError(`cpuprofile: node ${n.id} has unknown child ${c}`);
      if (parentOf.has(c) && parentOf.get(c) !== n.id) throw new RangeError(`cpuprofile: node ${c} has two parents`);
      parentOf.set(c, n.id);
    }
    if (typeof n.parent === 'number' && !parentOf.has(n.id)) parentOf.set(n.id, n.parent);
  }
  const childrenOf = new Map<number, number[]>();
  for (const [c, p] of parentOf) {
    if (!byId.has(p)) throw new RangeError(`cpuprofile: node ${c} has unknown parent ${p}`);
    let list = childrenOf.get(p);
    if (!list) childrenOf.set(p, (list = []));
    list.push(c);
  }

  const { hits, wallUs } = sampleWeights(profile, byId);

  const builder = new CallTreeBuilder();
  const ourNode = new Map<number, number>();
  const stack: number[] = [];
  for (const n of profile.nodes) if (!parentOf.has(n.id)) stack.push(n.id);
  let visited = 0;
  while (stack.length) {
    const id = stack.pop()!;
    visited++;
    const n = byId.get(id)!;
    const parent = parentOf.has(id) ? ourNode.get(parentOf.get(id)!)! : 0;
    const isRoot = n.callFrame.functionName === '(root)' && !parentOf.has(id);
    const ticks = isRoot ? undefined : lineTicks(n, id);
    const frame = isRoot ? undefined : frameOf(n, ticks !== undefined);
    const node = frame ? builder.child(parent, builder.internFrame(frame)) : 0;
    ourNode.set(id, node);
    const h = hits.get(id) ?? 0;
    const w = wallUs.get(id) ?? 0;
    // Time sampled on "(root)" itself has no function to belong to; V8 leaves it empty.
    if (node !== 0 && (h > 0 || w > 0)) {
      if (ticks && ticks.size > 0 && frame) addByLine(builder, parent, node, frame, ticks, h, w);
      else builder.addSelfValues(node, h, w, 0);
    }
    const kids = childrenOf.get(id);
    if (kids) for (let k = kids.length - 1; k >= 0; k--) stack.push(kids[k]!);
  }
  if (visited !== byId.size) throw new RangeError('cpuprofile: the nodes form a cycle');
  return builder.build();
}

/**
 * A node's frame. A node with `positionTicks` is a function at its start line (V8's shape, and Sonde's
 * export of frames whose start is known), so its line is also its `functionLine`.
 */
function frameOf(n: CpuProfileNode, atStart: boolean): Frame {
  const cf = n.callFrame;
  const name = typeof cf.functionName === 'string' ? cf.functionName : '';
  const url = typeof cf.url === 'string' ? cf.url : '';
  const line = oneBased(cf.lineNumber);
  const column = oneBased(cf.columnNumber);
  const given = n.sondeKind as FrameKind | undefined;
  const kind = given && FRAME_KINDS.includes(given) ? given : inferFrameKind(name, url, String(cf.scriptId) === '0');
  return makeFrame(name, url, line, column, kind, undefined, atStart && line > 0 && url !== '' ? line : undefined);
}

/** The node's `positionTicks` as line → ticks (duplicates added), or undefined when it has none; rejects malformed entries. */
function lineTicks(n: CpuProfileNode, id: number): Map<number, number> | undefined {
  const list = n.positionTicks as unknown;
  if (list === undefined) return undefined;
  if (!Array.isArray(list)) throw new RangeError(`cpuprofile: node ${id} positionTicks is not an array`);
  const out = new Map<number, number>();
  for (const [i, t] of list.entries()) {
    const { line, ticks } = (t ?? {}) as { line?: unknown; ticks?: unknown };
    if (typeof line !== 'number' || !Number.isInteger(line) || line < 1 || typeof ticks !== 'number' || !Number.isInteger(ticks) || ticks < 0) {
      throw new RangeError(`cpuprofile: node ${id} positionTicks[${i}] must be {line: whole number >= 1, ticks: whole number >= 0}`);
    }
    if (ticks > 0) out.set(line, (out.get(line) ?? 0) + ticks);
  }
  return out;
}

/**
 * Gives a function node's self samples to its lines, in the shares its `positionTicks` give (which
 * need not add up to the sample list's count: V8's hitCount can be one apart). Each line is a sibling
 * frame of the function (the model's shape: one frame per sampled line); the start line is the node
 * itself. Samples are split by largest remainder so they stay whole; wall time in proportion.
 */
function addByLine(builder: CallTreeBuilder, parent: number, node: number, frame: Frame, ticks: Map<number, number>, hits: number, wallUs: number): void {
  const lines = [...ticks].sort((a, b) => a[0] - b[0]);
  const total = lines.reduce((s, [, t]) => s + t, 0);
  const exact = lines.map(([, t]) => (hits * t) / total);
  const whole = exact.map(Math.floor);
  let left = hits - whole.reduce((s, x) => s + x, 0);
  const byRemainder = exact.map((x, i) => [x - whole[i]!, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of byRemainder) {
    if (left <= 0) break;
    whole[i]!++;
    left--;
  }
  for (const [i, [line, t]] of lines.entries()) {
    const at = line === frame.line ? node : builder.child(parent, builder.internFrame(makeFrame(frame.name, frame.file, line, 0, frame.kind, undefined, frame.functionLine)));
    builder.addSelfValues(at, whole[i]!, (wallUs * t) / total, 0);
  }
}

function oneBased(v: unknown): number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v + 1 : 0;
}

function sampleWeights(profile: Partial<CpuProfile>, byId: Map<number, CpuProfileNode>): { hits: Map<number, number>; wallUs: Map<number, number> } {
  const hits = new Map<number, number>();
  const wallUs = new Map<number, number>();
  const start = Number(profile.startTime);
  const end = Number(profile.endTime);
  if (!Number.isFinite(start) || !Number.isFinite(end)) throw new RangeError('cpuprofile: startTime and endTime must be numbers');
  const { samples, timeDeltas } = profile;
  if (Array.isArray(samples)) {
    if (!Array.isArray(timeDeltas) || timeDeltas.length !== samples.length) throw new RangeError('cpuprofile: samples and timeDeltas must have the same length');
    timeDeltas.forEach((d, i) => {
      if (typeof d !== 'number' || !Number.isFinite(d)) throw new RangeError(`cpuprofile: timeDeltas[${i}] is not a number`);
    });
    let t = start;
    for (let i = 0; i < samples.length; i++) {
      const id = samples[i]!;
      if (!byId.has(id)) throw new RangeError(`cpuprofile: sample ${i} refers to unknown node ${id}`);
      t += timeDeltas[i]!;
      const next = i + 1 < samples.length ? t + timeDeltas[i + 1]! : end;
      hits.set(id, (hits.get(id) ?? 0) + 1);
      // V8 occasionally records a sample out of order; a negative duration counts as none.
      wallUs.set(id, (wallUs.get(id) ?? 0) + Math.max(0, next - t));
    }
  } else {
    let total = 0;
    for (const n of byId.values()) total += n.hitCount ?? 0;
    const per = total > 0 ? Math.max(0, end - start) / total : 0;
    for (const n of byId.values()) {
      if (n.hitCount) {
        hits.set(n.id, n.hitCount);
        wallUs.set(n.id, n.hitCount * per);
      }
    }
  }
  return { hits, wallUs };
}
