import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { treeToCollapsed } from '../../src/export/collapsed.js';
import { collapsedToTree } from '../../src/import/collapsed.js';
import { F, pathWeights, sessionTree } from './fixture-trees.js';

const fixture = readFileSync(new URL('../fixtures/collapsed/checkout.folded', import.meta.url), 'utf8');

describe('collapsed stacks', () => {
  it('reads a folded file: repeated stacks add up, recursion nests, comments are skipped', () => {
    const t = collapsedToTree(fixture);
    const counts = fixture
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
    expect(t.totals.samples).toBe(counts.reduce((a, b) => a + b, 0));
    const paths = pathWeights(t, (f) => f.name);
    expect(paths.get('|main|serve_forever|handle_request|checkout|render_invoice|escape')!.samples).toBe(150);
    expect(paths.get('|main|serve_forever|handle_request|checkout|compute_tax|compute_tax|compute_tax')!.samples).toBe(17);
    expect(t.frames.find((f) => f.name === '(idle)')!.kind).toBe('idle');
    expect(t.frames.find((f) => f.name === '(garbage collector)')!.kind).toBe('gc');
  });

  it('writes the fixture back line for line (merged where it repeats a stack)', () => {
    const out = treeToCollapsed(collapsedToTree(fixture));
    const again = collapsedToTree(out);
    expect(pathWeights(again)).toEqual(pathWeights(collapsedToTree(fixture)));
    expect(out.split('\n').filter(Boolean)).toHaveLength(8);
    expect(out).toContain('main;serve_forever;handle_request;checkout;db_query;socket.recv 300\n');
  });

  it('writes one line per node with self weight, with the weight asked for', () => {
    const tree = sessionTree();
    const lines = treeToCollapsed(tree).trim().split('\n');
    const withSelf = Array.from({ length: tree.size }, (_, i) => i).filter((i) => i > 0 && tree.self.samples[i]! > 0);
    expect(lines).toHaveLength(withSelf.length);
    expect(lines).toContain('GET /orders/:id;handleOrder;fib;fib;fib 11');
    const wall = treeToCollapsed(tree, { weight: 'wallUs' });
    expect(wall).toContain('GET /orders/:id;(waiting: I/O and timers) 25000\n');
    const sum = wall.trim().split('\n').reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    expect(sum).toBe(tree.totals.wallUs);
  });

  it('replaces ";" and line breaks in names, and names anonymous functions by place', () => {
    const out = treeToCollapsed(sessionTree());
    expect(out).toContain('handleOrder;weird:name with breaks 1\n');
    expect(out).toContain(`handleOrder;(anonymous math.js:${F.anon.line}) 3\n`);
    expect(out.split('\n').every((l) => l === '' || /^[^\n]+ \d+$/.test(l))).toBe(true);
  });

  it('round-trips names and weights of a tree whose frames have only names', () => {
    const t = collapsedToTree('a;b;c 3\na;b 2\na;d 1\nx 4\n', { weight: 'cpuUs' });
    expect(t.totals).toEqual({ samples: 0, wallUs: 0, cpuUs: 10 });
    expect(collapsedToTree(treeToCollapsed(t, { weight: 'cpuUs' }), { weight: 'cpuUs' }).totals.cpuUs).toBe(10);
  });

  for (const [what, text, message] of [
    ['a line without a count', 'a;b;c\n', /line 1/],
    ['a negative count', 'a 1\na;b -3\n', /line 2/],
    ['a count that is not a number', 'a;b 1x\n', /line 1/],
    ['an empty frame', 'a;;b 2\n', /line 1: empty frame name/],
  ] as const) {
    it(`rejects ${what} with a RangeError naming the line`, () => {
      expect(() => collapsedToTree(text)).toThrow(RangeError);
      expect(() => collapsedToTree(text)).toThrow(message);
    });
  }
});
