import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cpuprofileToTree } from '../../src/import/cpuprofile.js';
import { CallTreeBuilder } from '../../src/model/call-tree-builder.js';
import { makeFrame } from '../../src/model/frame.js';
import { fitLabel } from '../../ui/flame/flame-chart.js';
import { isWithin, layoutFlame } from '../../ui/flame/layout.js';
import { DIFF_STEPS, diffColor, matchColor } from '../../ui/flame/palette.js';
import { makeTreeModel, resolveZoom, searchModel, zoomPath } from '../../ui/flame/tree-model.js';
import { parseHash, href } from '../../ui/router.js';
import { parseSelector } from '../../ui/components/start-session-form.js';
import { formatShare, formatUs } from '../../ui/util/format.js';

// A real V8 profile (test/fixtures/v8), not a hand-made tree.
const real = cpuprofileToTree(JSON.parse(readFileSync(new URL('../fixtures/v8/tiny.cpuprofile', import.meta.url), 'utf8')));

const w = (wallUs: number) => ({ samples: 1, wallUs, cpuUs: 0 });
function small() {
  const b = new CallTreeBuilder();
  const [main, a, bb, c] = ['main', 'parse', 'render', 'parseInt'].map((n) => makeFrame(n, '/app/src/x.js', 1));
  b.addStack([main!, a!], w(30));
  b.addStack([main!, bb!], w(60));
  b.addStack([main!, bb!, a!], w(10));
  b.addStack([main!, a!, c!], w(5));
  return b.build();
}

describe('flame layout', () => {
  it('places children heaviest first, inside their parent, with pre-order subtree ranges', () => {
    const t = real;
    const L = layoutFlame(t.parents, t.total.wallUs);
    expect(L.order[0]).toBe(0);
    for (let i = 1; i < t.size; i++) {
      const p = t.parents[i]!;
      expect(L.depth[i]).toBe(L.depth[p]! + 1);
      expect(L.x0[i]).toBeGreaterThanOrEqual(L.x0[p]! - 1e-6);
      expect(L.x0[i]! + L.value[i]!).toBeLessThanOrEqual(L.x0[p]! + L.value[p]! + 1e-6);
      expect(isWithin(L, i, p)).toBe(true);
      expect(isWithin(L, p, i)).toBe(false);
    }
    for (let n = 0; n < t.size; n++) {
      const kids = Array.from(L.kids.subarray(L.kidStart[n]!, L.kidStart[n + 1]!));
      for (let k = 1; k < kids.length; k++) expect(L.value[kids[k - 1]!]!).toBeGreaterThanOrEqual(L.value[kids[k]!]!);
    }
    // every node appears exactly once in pre-order
    expect(new Set(L.order).size).toBe(t.size);
  });
});

describe('search', () => {
  it('counts nested matches once in the share, and colours matches apart', () => {
    const m = makeTreeModel(small(), 4);
    const r = searchModel(m, 'PARSE')!; // case-insensitive: parse and parseInt
    expect(r.frames).toBe(2);
    expect(r.nodes).toBe(3); // main>parse, main>render>parse, main>parse>parseInt (nested in a match)
    expect(r.share).toBeCloseTo((35 + 10) / 105, 9);
    const match = matchColor(m.palette);
    let colored = 0;
    for (let i = 0; i < r.colors.length; i++) if (r.colors[i] === match) colored++;
    expect(colored).toBe(3);
    expect(searchModel(m, '  ')).toBeNull();
    expect(searchModel(m, 'nothing-like-this')!.nodes).toBe(0);
  });
});

describe('zoom paths', () => {
  it('round-trips every node of a real profile through its URL path', () => {
    const m = makeTreeModel(real, 1);
    for (let i = 0; i < real.size; i++) {
      const node = resolveZoom(m.label, m.layout, zoomPath(m.label, m.layout, i));
      // same path of labels (two frames may share a label; the heaviest is chosen)
      expect(zoomPath(m.label, m.layout, node)).toBe(zoomPath(m.label, m.layout, i));
    }
    expect(resolveZoom(m.label, m.layout, '')).toBe(0);
  });

  it('falls back to the deepest node it can find when the tree changed', () => {
    const m = makeTreeModel(small(), 4);
    const render = resolveZoom(m.label, m.layout, 'main src/x.js:1;render src/x.js:1');
    expect(m.label(render)).toBe('render src/x.js:1');
    expect(resolveZoom(m.label, m.layout, 'main src/x.js:1;render src/x.js:1;gone src/x.js:9')).toBe(render);
  });
});

describe('labels and formats', () => {
  it('truncates with an ellipsis and drops labels that would not fit three characters', () => {
    expect(fitLabel('renderInvoice', 20)).toBe('renderInvoice');
    expect(fitLabel('renderInvoice', 8)).toBe('renderI…');
    expect(fitLabel('renderInvoice', 8)).toHaveLength(8);
    expect(fitLabel('renderInvoice', 2)).toBe('');
  });

  it('formats times and shares the way people read them', () => {
    expect(formatUs(812)).toBe('812 µs');
    expect(formatUs(4210)).toBe('4.21 ms');
    expect(formatUs(1_250_000)).toBe('1.25 s');
    expect(formatShare(0.315)).toBe('31.5%');
    expect(formatShare(0.00001)).toBe('<0.1%');
  });

  it('maps changes onto the diverging scale: more is above the middle, less below', () => {
    expect(diffColor(0, 0.1)).toBe(DIFF_STEPS);
    expect(diffColor(0.1, 0.1)).toBe(2 * DIFF_STEPS);
    expect(diffColor(-0.1, 0.1)).toBe(0);
    expect(diffColor(0.01, 0.1)).toBeGreaterThan(DIFF_STEPS);
    expect(diffColor(-1, 0.1)).toBe(0);
  });
});

describe('router', () => {
  it('parses every page and keeps the view state of a session in its parameters', () => {
    const r = parseHash('#/sessions/abc?view=icicle&zoom=a%3Bb&q=parse&pod=p1');
    expect(r.page).toBe('session');
    if (r.page !== 'session') throw new Error('unreachable');
    expect(r.id).toBe('abc');
    expect(r.params.get('zoom')).toBe('a;b');
    expect(r.params.get('q')).toBe('parse');
    expect(parseHash('').page).toBe('sessions');
    expect(parseHash('#/sessions/default%2Forders').page === 'session' && (parseHash('#/sessions/default%2Forders') as { id: string }).id).toBe('default/orders');
    expect(parseHash('#/compare?base=a&new=b').page).toBe('compare');
    expect(parseHash('#/hotspots?workload=shop').params.get('workload')).toBe('shop');
    expect(parseHash('#/nope').page).toBe('not-found');
    expect(href('/compare', { base: 'a', new: undefined })).toBe('#/compare?base=a');
  });

  it('reads label selectors and rejects what is not one', () => {
    expect(parseSelector('app=checkout, tier=web')).toEqual({ app: 'checkout', tier: 'web' });
    expect(parseSelector('  ')).toEqual({});
    expect(() => parseSelector('app')).toThrow(/key=value/);
  });
});
