import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CpuProfile } from '../../src/export/cpuprofile-format.js';
import { treeToCpuProfile } from '../../src/export/cpuprofile.js';
import { cpuprofileToTree } from '../../src/import/cpuprofile.js';
import { byFunction } from '../../src/model/by-function.js';
import { CallTreeBuilder } from '../../src/model/call-tree-builder.js';
import type { CallTree } from '../../src/model/call-tree.js';
import { makeFrame } from '../../src/model/frame.js';
import { topHotspots } from '../../src/model/hotspots.js';
import type { Weights } from '../../src/model/weights.js';

const FILE = '/app/src/orders.js';
const w = (samples: number): Weights => ({ samples, wallUs: samples * 1000, cpuUs: 0 });
const request = makeFrame('GET /orders', '', 0, 0, 'synthetic');
const handler = makeFrame('handle', FILE, 8, 5, 'code', undefined, 5);
// priceOrder begins at line 20 and was sampled at 24 and 34; it calls round() from line 34.
const price24 = makeFrame('priceOrder', FILE, 24, 9, 'code', undefined, 20);
const price34 = makeFrame('priceOrder', FILE, 34, 3, 'code', undefined, 20);
const round = makeFrame('round', FILE, 52, 12, 'code', undefined, 50);

/** A tree from an agent that knows start lines: one function, two sampled lines, a callee under one of them. */
function startsTree(): CallTree {
  const b = new CallTreeBuilder();
  b.addStack([request, handler], w(1));
  b.addStack([request, handler, price24], w(2));
  b.addStack([request, handler, price34], w(31));
  b.addStack([request, handler, price34, round], w(4));
  return b.build();
}

const byName = (p: CpuProfile, name: string) => p.nodes.filter((n) => n.callFrame.functionName === name);

describe('cpuprofile export: one node per function where the start line is known (V8\'s shape)', () => {
  const tree = startsTree();
  const out = treeToCpuProfile(tree);

  it('writes one node for a function sampled at two lines, at its start line, with a positionTick per line', () => {
    const price = byName(out, 'priceOrder');
    expect(price).toHaveLength(1);
    expect(price[0]!.callFrame.lineNumber).toBe(20 - 1);
    expect(price[0]!.positionTicks).toEqual([
      { line: 24, ticks: 2 },
      { line: 34, ticks: 31 },
    ]);
    expect(price[0]!.hitCount).toBe(33);
    // Its callee hangs under the function, not under a line of it.
    const roundNode = byName(out, 'round');
    expect(roundNode).toHaveLength(1);
    expect(price[0]!.children).toEqual([roundNode[0]!.id]);
    expect(roundNode[0]!.callFrame.lineNumber).toBe(50 - 1);
  });

  it('keeps the total samples and wall time, and node ids 1..n in array order', () => {
    const hits = out.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0);
    expect(out.samples!.length).toBe(hits);
    expect(hits - 1).toBe(tree.totals.samples); // less the closing "(root)" sample
    expect(out.endTime - out.startTime).toBe(tree.totals.wallUs);
    out.nodes.forEach((n, i) => expect(n.id).toBe(i + 1));
    // Every sample of the function's node: its 33.
    const id = byName(out, 'priceOrder')[0]!.id;
    expect(out.samples!.filter((s) => s === id)).toHaveLength(33);
  });

  it('keeps a column for the start line only where a frame sat on it, else -1', () => {
    const b = new CallTreeBuilder();
    b.addStack([makeFrame('f', FILE, 10, 3, 'code', undefined, 10)], w(1));
    b.addStack([makeFrame('g', FILE, 41, 3, 'code', undefined, 40)], w(1));
    const p = treeToCpuProfile(b.build());
    expect(byName(p, 'f')[0]!.callFrame).toMatchObject({ lineNumber: 9, columnNumber: 2 });
    expect(byName(p, 'g')[0]!.callFrame).toMatchObject({ lineNumber: 39, columnNumber: -1 });
  });

  it('writes an empty positionTicks on a function that only called others, so a reader knows its line is a start', () => {
    expect(byName(out, 'handle')[0]!.positionTicks).toEqual([{ line: 8, ticks: 1 }]);
    const b = new CallTreeBuilder();
    b.addStack([handler, price34], w(3));
    const p = treeToCpuProfile(b.build());
    expect(byName(p, 'handle')[0]!.positionTicks).toEqual([]);
    expect(byName(p, 'handle')[0]!.hitCount).toBe(0);
  });

  it('keeps one node per sampled line, without positionTicks, for frames whose start is unknown', () => {
    const b = new CallTreeBuilder();
    b.addStack([makeFrame('priceOrder', FILE, 24, 9)], w(2));
    b.addStack([makeFrame('priceOrder', FILE, 34, 3)], w(31));
    const p = treeToCpuProfile(b.build());
    const price = byName(p, 'priceOrder');
    expect(price.map((n) => n.callFrame.lineNumber).sort()).toEqual([23, 33]);
    for (const n of price) expect(n.positionTicks).toBeUndefined();
  });

  it('round-trips through the reader: the same functions, lines, samples and time', () => {
    const back = cpuprofileToTree(JSON.parse(JSON.stringify(out)));
    expect(back.totals.samples).toBe(tree.totals.samples);
    expect(back.totals.wallUs).toBe(tree.totals.wallUs);
    const rows = (t: CallTree) =>
      topHotspots(byFunction(t).tree).map((r) => [r.frame.name, r.frame.line, r.frame.functionLine, r.self.samples, r.total.samples, r.self.wallUs]);
    expect(rows(back)).toEqual(rows(tree));
    // The per-line detail survives: the reader splits the function's self samples by its positionTicks.
    // (The line that called round() is lost, as in V8's own format: the reader puts the call at the start line.)
    const lines = (t: CallTree) => {
      const f = byFunction(t);
      const i = f.tree.frames.findIndex((fr) => fr.name === 'priceOrder');
      return f.frameLines(i).filter((l) => l.self.samples > 0).map((l) => [l.line, l.self.samples, l.self.wallUs]);
    };
    expect(lines(back)).toEqual([
      [24, 2, 2000],
      [34, 31, 31000],
    ]);
    expect(lines(back)).toEqual(lines(tree));
    for (const f of back.frames.filter((fr) => fr.name === 'priceOrder')) expect(f.functionLine).toBe(20);
  });
});

describe('cpuprofile import of positionTicks', () => {
  const real = (): CpuProfile => JSON.parse(readFileSync(new URL('../fixtures/v8/tiny.cpuprofile', import.meta.url), 'utf8')) as CpuProfile;

  it('reads a real V8 profile\'s functions at their start lines and its hit lines as their lines', () => {
    const p = real();
    const tree = cpuprofileToTree(p);
    const v8 = p.nodes.find((n) => n.callFrame.functionName === 'hashLoop' && (n.positionTicks?.length ?? 0) > 0)!;
    const start = v8.callFrame.lineNumber + 1;
    const frames = tree.frames.filter((f) => f.name === 'hashLoop');
    for (const f of frames) expect(f.functionLine).toBe(start);
    const lines = new Set(frames.map((f) => f.line));
    for (const t of v8.positionTicks!) expect(lines.has(t.line)).toBe(true);
    // By function, hashLoop is one row whatever lines it was sampled at.
    expect(topHotspots(byFunction(tree).tree, { limit: 1000 }).filter((r) => r.frame.name === 'hashLoop')).toHaveLength(1);
  });

  it('splits a node\'s samples by its ticks\' shares, in whole samples, when they disagree with the sample list', () => {
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: { functionName: '(root)', scriptId: '0', url: '', lineNumber: -1, columnNumber: -1 }, children: [2] },
        { id: 2, callFrame: { functionName: 'f', scriptId: '1', url: 'file:///a.js', lineNumber: 9, columnNumber: 0 }, hitCount: 3, positionTicks: [{ line: 12, ticks: 2 }, { line: 10, ticks: 1 }] },
      ],
      startTime: 0,
      endTime: 4000,
      samples: [2, 2, 2, 2],
      timeDeltas: [0, 1000, 1000, 1000],
    };
    const tree = cpuprofileToTree(profile);
    expect(tree.totals.samples).toBe(4);
    expect(tree.totals.wallUs).toBe(4000);
    const at = (line: number) => {
      const i = Array.from({ length: tree.size }, (_, k) => k).find((k) => k > 0 && tree.frame(k)!.line === line)!;
      return tree.selfOf(i);
    };
    expect(at(12).samples + at(10).samples).toBe(4);
    expect(at(12).samples).toBe(3); // 4 × 2/3 = 2.67 → 3 by the larger remainder
    expect(at(12).wallUs).toBeCloseTo(4000 * (2 / 3), 6);
    expect(tree.frame(1)!).toMatchObject({ line: 10, column: 1, functionLine: 10 });
  });

  const bad: [string, unknown, RegExp][] = [
    ['not an array', { line: 1, ticks: 1 }, /positionTicks is not an array/],
    ['a line of 0', [{ line: 0, ticks: 1 }], /positionTicks\[0\]/],
    ['a fractional line', [{ line: 1.5, ticks: 1 }], /positionTicks\[0\]/],
    ['negative ticks', [{ line: 3, ticks: 1 }, { line: 4, ticks: -1 }], /positionTicks\[1\]/],
    ['a string line', [{ line: '3', ticks: 1 }], /positionTicks\[0\]/],
    ['a null entry', [null], /positionTicks\[0\]/],
  ];
  for (const [what, ticks, message] of bad) {
    it(`rejects positionTicks with ${what}`, () => {
      const p = real();
      const n = p.nodes.find((x) => (x.positionTicks?.length ?? 0) > 0)!;
      (n as { positionTicks: unknown }).positionTicks = ticks;
      expect(() => cpuprofileToTree(p)).toThrow(RangeError);
      expect(() => cpuprofileToTree(p)).toThrow(message);
    });
  }
});
