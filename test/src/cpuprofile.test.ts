import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CpuProfile } from '../../src/export/cpuprofile-format.js';
import { treeToCpuProfile } from '../../src/export/cpuprofile.js';
import { cpuprofileToTree } from '../../src/import/cpuprofile.js';
import { pathWeights, sessionTree } from './fixture-trees.js';

const fixture = new URL('../fixtures/v8/tiny.cpuprofile', import.meta.url);
const source = readFileSync(new URL('../fixtures/v8/tiny.js', import.meta.url), 'utf8').split('\n');
const raw = (): CpuProfile => JSON.parse(readFileSync(fixture, 'utf8')) as CpuProfile;

/** Checks the structural rules DevTools relies on. */
function checkWellFormed(p: CpuProfile): void {
  const ids = new Set(p.nodes.map((n) => n.id));
  expect(ids.size).toBe(p.nodes.length);
  for (const n of p.nodes) for (const c of n.children ?? []) expect(ids.has(c)).toBe(true);
  expect(p.samples!.length).toBe(p.timeDeltas!.length);
  for (const s of p.samples!) expect(ids.has(s)).toBe(true);
  const hits = p.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0);
  expect(hits).toBe(p.samples!.length);
  for (const d of p.timeDeltas!) expect(d).toBeGreaterThanOrEqual(0);
  expect(p.startTime + p.timeDeltas!.reduce((a, b) => a + b, 0)).toBe(p.endTime);
}

describe('cpuprofile import (real V8 profile from node --cpu-prof)', () => {
  const p = raw();
  const tree = cpuprofileToTree(p);

  it('counts every sample once and gives each the time until the next sample', () => {
    expect(tree.totals.samples).toBe(p.samples!.length);
    const firstSample = p.startTime + p.timeDeltas![0]!;
    expect(tree.totals.wallUs).toBe(p.endTime - firstSample);
    expect(tree.totals.cpuUs).toBe(0);
  });

  it('makes "(root)" the root and gives V8\'s special nodes their kinds', () => {
    expect(tree.frames.find((f) => f.name === '(root)')).toBeUndefined();
    const kind = (name: string): string | undefined => tree.frames.find((f) => f.name === name)?.kind;
    expect(kind('(idle)')).toBe('idle');
    expect(kind('(garbage collector)')).toBe('gc');
    expect(kind('(program)')).toBe('program');
    expect(kind('consoleCall')).toBe('native');
    expect(kind('fib')).toBe('code');
    expect(kind('(anonymous)')).toBe('code');
  });

  it('normalises 0-based lines and columns to 1-based, once', () => {
    const fib = tree.frames.find((f) => f.name === 'fib')!;
    const v8fib = p.nodes.find((n) => n.callFrame.functionName === 'fib')!.callFrame;
    expect(fib.line).toBe(v8fib.lineNumber + 1);
    expect(fib.column).toBe(v8fib.columnNumber + 1);
    // The 1-based line is the line of the source that declares it.
    expect(source[fib.line - 1]).toContain('function fib(');
    const hash = tree.frames.find((f) => f.name === 'hashLoop')!;
    expect(source[hash.line - 1]).toContain('function hashLoop(');
    // Unknown positions (-1) become 0, not 1 - 1.
    expect(tree.frames.find((f) => f.name === '(idle)')!.line).toBe(0);
  });

  it('keeps recursion as nested nodes and the hot functions\' self samples', () => {
    const fibDepth = Math.max(...Array.from({ length: tree.size }, (_, i) => tree.stackOf(i).filter((f) => f.name === 'fib').length));
    expect(fibDepth).toBeGreaterThan(3);
    const selfOf = (name: string): number => {
      let s = 0;
      for (let i = 1; i < tree.size; i++) if (tree.frame(i)!.name === name) s += tree.self.samples[i]!;
      return s;
    };
    // What the sample list says (V8's hitCount can differ from it by one: "(program)" does here).
    const v8self = (name: string): number => {
      const ids = new Set(p.nodes.filter((n) => n.callFrame.functionName === name).map((n) => n.id));
      return p.samples!.filter((id) => ids.has(id)).length;
    };
    for (const name of ['fib', 'jsonWork', 'hashLoop', '(idle)']) expect(selfOf(name), name).toBe(v8self(name));
  });

  it('round-trips through its own export: samples exactly, wall time within 1 µs per node', () => {
    const out = treeToCpuProfile(tree);
    checkWellFormed(out);
    const back = cpuprofileToTree(JSON.parse(JSON.stringify(out)));
    const a = pathWeights(tree);
    const b = pathWeights(back);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [k, w] of a) {
      expect(b.get(k)!.samples, k).toBe(w.samples);
      expect(Math.abs(b.get(k)!.wallUs - w.wallUs), k).toBeLessThanOrEqual(1);
    }
    expect(back.totals.wallUs).toBe(Math.round(tree.totals.wallUs));
  });

  it('reads profiles without a sample list from hit counts, and links by parent as well as children', () => {
    const q = raw();
    delete q.samples;
    delete q.timeDeltas;
    const t = cpuprofileToTree(q);
    // V8's hit counts need not match its sample list exactly (this real profile is one apart).
    const hits = p.nodes.filter((n) => n.callFrame.functionName !== '(root)').reduce((s, n) => s + (n.hitCount ?? 0), 0);
    expect(t.totals.samples).toBe(hits);
    expect(t.totals.wallUs).toBeCloseTo(p.endTime - p.startTime, 6);
    const byParent = raw();
    const parentOf = new Map<number, number>();
    for (const n of byParent.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
    for (const n of byParent.nodes) {
      delete n.children;
      if (parentOf.has(n.id)) n.parent = parentOf.get(n.id)!;
    }
    expect(pathWeights(cpuprofileToTree(byParent))).toEqual(pathWeights(tree));
  });

  const bad: [string, (p: CpuProfile) => unknown, RegExp][] = [
    ['no nodes', () => ({}), /nodes array/],
    ['a node without callFrame', (p) => ({ ...p, nodes: [{ id: 1 }] }), /no id or callFrame/],
    ['a duplicate id', (p) => ({ ...p, nodes: [...p.nodes, p.nodes[1]] }), /appears twice/],
    ['an unknown child', (p) => ({ ...p, nodes: [{ ...p.nodes[0]!, children: [99999] }, ...p.nodes.slice(1)] }), /unknown child/],
    ['a sample of an unknown node', (p) => ({ ...p, samples: [99999, ...p.samples!.slice(1)] }), /unknown node/],
    ['samples longer than timeDeltas', (p) => ({ ...p, timeDeltas: p.timeDeltas!.slice(1) }), /same length/],
    ['a non-numeric time delta', (p) => ({ ...p, timeDeltas: ['x', ...p.timeDeltas!.slice(1)] }), /timeDeltas\[0\]/],
    ['no startTime', (p) => ({ ...p, startTime: undefined }), /startTime/],
  ];
  for (const [what, mutate, message] of bad) {
    it(`rejects ${what} with a RangeError`, () => {
      expect(() => cpuprofileToTree(mutate(raw()))).toThrow(RangeError);
      expect(() => cpuprofileToTree(mutate(raw()))).toThrow(message);
    });
  }
});

describe('cpuprofile export', () => {
  const tree = sessionTree();
  const out = treeToCpuProfile(tree, { startTimeMs: 1000 });

  it('is well formed, 0-based, and spends exactly the tree\'s wall time', () => {
    checkWellFormed(out);
    expect(out.startTime).toBe(1_000_000);
    expect(out.endTime - out.startTime).toBe(tree.totals.wallUs);
    const handler = out.nodes.find((n) => n.callFrame.functionName === 'handleOrder')!;
    expect(handler.callFrame).toMatchObject({ url: '/app/src/routes/orders.js', lineNumber: 11, columnNumber: 2 });
    expect(out.nodes[0]!.callFrame.functionName).toBe('(root)');
    // Anonymous functions are '' as V8 writes them; unknown positions are -1.
    expect(out.nodes.some((n) => n.callFrame.functionName === '' && n.callFrame.url.endsWith('math.js'))).toBe(true);
    expect(out.nodes.find((n) => n.callFrame.functionName === 'stringify')!.callFrame).toMatchObject({ lineNumber: -1, scriptId: '0' });
  });

  it('round-trips paths, samples, wall time and frame kinds', () => {
    const back = cpuprofileToTree(JSON.parse(JSON.stringify(out)));
    const strip = (m: Map<string, { samples: number; wallUs: number }>): Map<string, [number, number]> =>
      new Map([...m].map(([k, w]) => [k, [w.samples, w.wallUs]]));
    expect(strip(pathWeights(back))).toEqual(strip(pathWeights(tree)));
    expect(back.frames.find((f) => f.name === '(waiting: I/O and timers)')!.kind).toBe('synthetic');
    expect(back.frames.find((f) => f.name === 'GET /orders/:id')!.kind).toBe('synthetic');
    expect(back.frames.find((f) => f.name === 'stringify')!.kind).toBe('native');
  });

  it('spaces samples by the interval they stand for when exporting sample counts, whatever interval is passed', () => {
    const s = treeToCpuProfile(tree, { weight: 'samples', sampleIntervalUs: 2000 });
    checkWellFormed(s);
    expect(s.endTime - s.startTime).toBe(tree.totals.wallUs);
  });
});
