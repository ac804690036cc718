import { describe, expect, it } from 'vitest';
import { Profile } from 'pprof-format';
import { byFunction, functionKey, joinKeysToStarts } from '../../src/model/by-function.js';
import { CallTreeBuilder } from '../../src/model/call-tree-builder.js';
import { makeFrame, SYNTHETIC } from '../../src/model/frame.js';
import { statusHotspots, topHotspots } from '../../src/model/hotspots.js';
import { sandwich } from '../../src/model/sandwich.js';
import { treeToPprof } from '../../src/export/pprof.js';
import { pprofToTree } from '../../src/import/pprof.js';
import { mergeTrees } from '../../src/model/merge.js';

const FILE = '/app/src/orders.js';
const handle = makeFrame('handle', FILE, 10);
const checkout = makeFrame('checkout', FILE, 50);
const price34 = makeFrame('priceOrder', FILE, 34);
const price24 = makeFrame('priceOrder', FILE, 24);
const tax = makeFrame('tax', '/app/src/tax.js', 5);
const w = (ms: number) => ({ samples: ms, wallUs: ms * 1000, cpuUs: 0 });

/** The case: priceOrder sampled at line 34 (heavy) and line 24 (light), under two callers. */
function splitTree() {
  const b = new CallTreeBuilder();
  b.addStack([handle, price34], w(310));
  b.addStack([handle, price24], w(3));
  b.addStack([handle, price34, tax], w(40));
  b.addStack([handle, price24, tax], w(7));
  b.addStack([handle, checkout, price34], w(100));
  b.addStack([handle, SYNTHETIC.waiting], w(540));
  return b.build();
}

describe('aggregation by function', () => {
  it('the source tree really has priceOrder twice (the defect this guards)', () => {
    const rows = topHotspots(splitTree(), { limit: 10 }).filter((r) => r.frame.name === 'priceOrder');
    expect(rows).toHaveLength(2);
  });

  it('merges the lines of one function into one node per call path, weights exact', () => {
    const src = splitTree();
    const { tree } = byFunction(src);
    expect(tree.frames.filter((f) => f.name === 'priceOrder')).toHaveLength(1);
    expect(tree.frames.find((f) => f.name === 'priceOrder')!.line).toBe(24);
    expect(tree.totals).toEqual(src.totals);
    // handle → priceOrder is one node (313 self + 47 in tax), checkout → priceOrder another.
    const kids = [...tree.children(1)].map((n) => [tree.frame(n)!.name, tree.totalOf(n).samples]);
    expect(kids).toEqual([
      ['priceOrder', 360],
      ['checkout', 100],
      ['(waiting: I/O and timers)', 540],
    ]);
    const pNode = tree.children(1)[0]!;
    expect(tree.children(pNode)).toHaveLength(1); // tax once, 47
    expect(tree.totalOf(tree.children(pNode)[0]!).samples).toBe(47);
  });

  it('keeps each line as detail: per node (tooltip) and per function (sandwich)', () => {
    const fnTree = byFunction(splitTree());
    const { tree } = fnTree;
    const pNode = tree.children(1)[0]!;
    expect(fnTree.nodeLines(pNode).map((l) => [l.line, l.self.samples, l.total.samples])).toEqual([
      [24, 3, 10],
      [34, 310, 350],
    ]);
    // checkout → priceOrder only ran line 34, while its frame shows the function at 24: the tooltip
    // still says where the time went (one line). A node whose one line is the shown one lists nothing.
    const cNode = tree.children(1)[1]!;
    expect(fnTree.nodeLines(tree.children(cNode)[0]!).map((l) => [l.line, l.self.samples])).toEqual([[34, 100]]);
    expect(fnTree.nodeLines(cNode)).toEqual([]);
    const f = tree.frames.findIndex((x) => x.name === 'priceOrder');
    expect(fnTree.frameLines(f).map((l) => [l.line, l.self.samples])).toEqual([
      [24, 3],
      [34, 410],
    ]);
    expect(fnTree.nodeLines(1)).toEqual([]);
  });

  it('one hotspot row and one status hotspot per function', () => {
    const { tree } = byFunction(splitTree());
    const rows = topHotspots(tree, { limit: 10 }).filter((r) => r.frame.name === 'priceOrder');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.self.samples).toBe(413);
    expect(rows[0]!.total.samples).toBe(460);
    const status = statusHotspots(splitTree(), 5).filter((h) => h.frame.startsWith('priceOrder'));
    expect(status).toEqual([{ frame: 'priceOrder src/orders.js:24', selfPercent: 41.3 }]);
  });

  it('one sandwich for the function, with both call sites as callers', () => {
    const { tree } = byFunction(splitTree());
    const s = sandwich(tree, tree.frames.findIndex((x) => x.name === 'priceOrder'));
    expect(s.callers.totals.samples).toBe(460);
    expect(s.callees.totals.samples).toBe(460);
    const callerNames = [...s.callers.children(s.callers.children(0)[0]!)].map((n) => s.callers.frame(n)!.name);
    expect(callerNames.sort()).toEqual(['checkout', 'handle']);
  });

  it('does not merge anonymous functions, native or synthetic frames of different places', () => {
    const a1 = makeFrame('(anonymous)', FILE, 3);
    const a2 = makeFrame('(anonymous)', FILE, 90);
    const l1 = makeFrame('<lambda>', '/app/app.py', 3);
    const l2 = makeFrame('<lambda>', '/app/app.py', 4);
    expect(functionKey(a1)).not.toBe(functionKey(a2));
    expect(functionKey(l1)).not.toBe(functionKey(l2));
    expect(functionKey(price24)).toBe(functionKey(price34));
    expect(functionKey(price24)).not.toBe(functionKey(makeFrame('priceOrder', '/app/src/other.js', 24)));
    expect(functionKey(price24)).not.toBe(functionKey(makeFrame('priceOrder', FILE, 24, 0, 'native')));
    const b = new CallTreeBuilder();
    b.addStack([a1], w(1));
    b.addStack([a2], w(1));
    expect(byFunction(b.build()).tree.size).toBe(3);
  });

  it('is idempotent and agrees with merge', () => {
    const once = byFunction(splitTree()).tree;
    const twice = byFunction(once).tree;
    expect(twice.size).toBe(once.size);
    expect(byFunction(mergeTrees([splitTree(), splitTree()])).tree.totals.samples).toBe(2 * once.totals.samples);
  });
});

describe('pprof: one Function per function, its lines as Line entries', () => {
  const bytes = treeToPprof(splitTree(), { sampleIntervalUs: 1000 });
  const p = Profile.decode(bytes);
  const str = (i: number | bigint): string => p.stringTable.strings[Number(i)]!;

  it('lists priceOrder once, starting at its first known line, with a Location per line', () => {
    const fns = p.function.filter((f) => str(f.name) === 'priceOrder');
    expect(fns).toHaveLength(1);
    expect(Number(fns[0]!.startLine)).toBe(24);
    const id = Number(fns[0]!.id);
    const lines = p.location.flatMap((l) => l.line).filter((l) => Number(l.functionId) === id).map((l) => Number(l.line));
    expect(lines.sort()).toEqual([24, 34]);
    expect(new Set(p.function.map((f) => `${str(f.name)} ${str(f.filename)}`)).size).toBe(p.function.length);
  });

  it('reads back with its lines intact', () => {
    const back = pprofToTree(bytes);
    expect(back.frames.filter((f) => f.name === 'priceOrder').map((f) => f.line).sort()).toEqual([24, 34]);
    expect(back.totals).toEqual(splitTree().totals);
  });
});

describe('aggregation of two trees compared with each other', () => {
  it('gives one function the same frame on both sides, so a diff pairs it', () => {
    const a = new CallTreeBuilder();
    a.addStack([handle, price34], w(10));
    const b = new CallTreeBuilder();
    b.addStack([handle, price24], w(10));
    const ta = a.build();
    const tb = b.build();
    const fa = byFunction(ta, { alsoLinesOf: tb.frames }).tree;
    const fb = byFunction(tb, { alsoLinesOf: ta.frames }).tree;
    expect(fa.frames.find((f) => f.name === 'priceOrder')).toEqual(fb.frames.find((f) => f.name === 'priceOrder'));
    expect(byFunction(ta).tree.frames.find((f) => f.name === 'priceOrder')!.line).toBe(34);
  });
});

describe('aggregation keeps what a frame says about its source map', () => {
  it('keeps mappedFrom on the function frame', () => {
    const b = new CallTreeBuilder();
    b.addStack([makeFrame('priceOrder', '/app/src/orders.ts', 34, 0, 'code', '/app/dist/orders.js')], w(1));
    b.addStack([makeFrame('priceOrder', '/app/src/orders.ts', 24, 0, 'code', '/app/dist/orders.js')], w(1));
    const f = byFunction(b.build()).tree.frames[0]!;
    expect(f).toMatchObject({ line: 24, mappedFrom: '/app/dist/orders.js' });
  });
});

describe('joinKeysToStarts (the cross-tree rule on stored keys)', () => {
  const FILE = '/app/orders.js';
  const started = (name: string, line: number, start: number) => makeFrame(name, FILE, line, 3, 'code', undefined, start);
  const plain = (name: string, line: number) => makeFrame(name, FILE, line, 3);

  it('joins what byFunction joins within one tree: a named frame without a start to the function that begins last at or before its line', () => {
    const frames = [
      started('priceOrder', 24, 20),
      started('priceOrder', 63, 60), // another priceOrder of the file, later in it
      plain('priceOrder', 34), // → 20
      plain('priceOrder', 70), // → 60
      plain('priceOrder', 12), // above every start: stays
      plain('applyTax', 40), // no applyTax has a start: stays
      makeFrame('', FILE, 30, 1), // anonymous: never joined
      makeFrame('stringify', '', 0, 0, 'native'),
    ];
    // byFunction over a tree that holds all of them, each under the root.
    const b = new CallTreeBuilder();
    for (const f of frames) b.addStack([f], { samples: 1, wallUs: 1, cpuUs: 0 });
    const bf = byFunction(b.build());
    const inTree = frames.map((_, i) => functionKey(bf.tree.frames[bf.functionOf[i]!]!));
    // The same frames as keys, as the store keeps them per session (each frame its own stored function).
    const keys = frames.map((f) => functionKey(byFunction((() => {
      const one = new CallTreeBuilder();
      one.addStack([f], { samples: 1, wallUs: 1, cpuUs: 0 });
      return one.build();
    })()).tree.frames[0]!));
    const joins = joinKeysToStarts(keys, frames.map((f) => f.line));
    const across = keys.map((k, i) => joins.get(i) ?? k);
    expect(across).toEqual(inTree);
    expect([...joins.keys()].sort()).toEqual([2, 3]);
    expect(joins.get(2)).toBe(keys[0]);
    expect(joins.get(3)).toBe(keys[1]);
  });

  it('joins nothing where no key has a start, or the line is unknown', () => {
    const k = functionKey(plain('priceOrder', 34));
    expect(joinKeysToStarts([k], [34]).size).toBe(0);
    const s = functionKey(started('priceOrder', 24, 20));
    expect(joinKeysToStarts([s, k], [20, 0]).size).toBe(0);
    // A name or file that looks like a start field is not one: only the last field counts.
    const odd = functionKey(makeFrame('f12', 'f7', 3, 1));
    expect(joinKeysToStarts([odd, functionKey(makeFrame('f12', 'f7', 3, 1, 'code', undefined, 2))], [3, 2]).get(0)).toBe(functionKey(makeFrame('f12', 'f7', 2, 0, 'code', undefined, 2)));
  });
});
