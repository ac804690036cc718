import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SPEEDSCOPE_SCHEMA, type SpeedscopeFile, type SpeedscopeSampledProfile } from '../../src/export/speedscope-format.js';
import { treeToSpeedscope } from '../../src/export/speedscope.js';
import { speedscopeToTree } from '../../src/import/speedscope.js';
import { pathWeights, sessionTree } from './fixture-trees.js';

const raw = (): SpeedscopeFile => JSON.parse(readFileSync(new URL('../fixtures/speedscope/checkout.speedscope.json', import.meta.url), 'utf8')) as SpeedscopeFile;

describe('speedscope import', () => {
  it('reads a sampled profile in milliseconds as wall time in µs, with 1-based positions kept', () => {
    const t = speedscopeToTree(raw());
    expect(t.totals.wallUs).toBe(61_500);
    expect(t.totals.samples).toBe(0);
    const paths = pathWeights(t, (f) => f.name);
    expect(paths.get('|main|handle_request|render_invoice')!.wallUs).toBe(22_500);
    expect(paths.get('|main|handle_request|compute_tax|compute_tax')!.wallUs).toBe(3000);
    const render = t.frames.find((f) => f.name === 'render_invoice')!;
    expect([render.file, render.line, render.column]).toEqual(['/srv/app/views.py', 42, 5]);
    expect(t.frames.find((f) => f.name === '(idle)')!.kind).toBe('idle');
  });

  it('reads an evented profile: time between events belongs to the innermost open frame', () => {
    const t = speedscopeToTree(raw(), { profileIndex: 1 });
    const p = pathWeights(t, (f) => f.name);
    expect(t.totals.wallUs).toBe(90);
    expect(p.get('|main')!.wallUs).toBe(20);
    expect(p.get('|main|handle_request')!.wallUs).toBe(5 + 5 + 10);
    expect(p.get('|main|handle_request|render_invoice')!.wallUs).toBe(30);
    expect(p.get('|main|handle_request|compute_tax')!.wallUs).toBe(10);
    expect(p.get('|main|handle_request|compute_tax|compute_tax')!.wallUs).toBe(10);
  });

  const bad: [string, (f: SpeedscopeFile) => unknown, RegExp][] = [
    ['no frames', (f) => ({ ...f, shared: {} }), /shared.frames/],
    ['no profiles', (f) => ({ ...f, profiles: [] }), /profiles/],
    ['a frame without a name', (f) => ({ ...f, shared: { frames: [{ file: 'x' }] } }), /frame 0 has no name/],
    ['a frame index out of range', (f) => { (f.profiles[0] as SpeedscopeSampledProfile).samples[0] = [0, 99]; return f; }, /frame 99/],
    ['weights of another length', (f) => { (f.profiles[0] as SpeedscopeSampledProfile).weights.pop(); return f; }, /same length/],
    ['a negative weight', (f) => { (f.profiles[0] as SpeedscopeSampledProfile).weights[0] = -1; return f; }, /bad weight/],
    ['the unit bytes', (f) => { f.profiles[0]!.unit = 'bytes'; return f; }, /neither a count nor a time/],
    ['an unknown profile type', (f) => { (f.profiles[0] as { type: string }).type = 'other'; return f; }, /unknown profile type/],
    ['unbalanced events', (f) => ({ ...f, activeProfileIndex: 1, profiles: [f.profiles[0], { ...f.profiles[1], events: (f.profiles[1] as { events: unknown[] }).events.slice(0, -1) }] }), /still open/],
  ];
  for (const [what, mutate, message] of bad) {
    it(`rejects ${what} with a RangeError`, () => {
      expect(() => speedscopeToTree(mutate(raw()))).toThrow(RangeError);
      expect(() => speedscopeToTree(mutate(raw()))).toThrow(message);
    });
  }
});

describe('speedscope export', () => {
  const tree = sessionTree();

  it('follows the published format: schema, shared frames, one sampled profile in µs', () => {
    const f = treeToSpeedscope(tree, { name: 'orders' });
    expect(f.$schema).toBe(SPEEDSCOPE_SCHEMA);
    expect(f.profiles).toHaveLength(1);
    const p = f.profiles[0] as SpeedscopeSampledProfile;
    expect(p).toMatchObject({ type: 'sampled', name: 'orders', unit: 'microseconds', startValue: 0, endValue: tree.totals.wallUs });
    expect(p.samples.length).toBe(p.weights.length);
    expect(p.weights.reduce((a, b) => a + b, 0)).toBe(tree.totals.wallUs);
    for (const s of p.samples) for (const k of s) expect(f.shared.frames[k]).toBeDefined();
    expect(f.shared.frames.find((fr) => fr.name === 'handleOrder')).toEqual({ name: 'handleOrder', file: '/app/src/routes/orders.js', line: 12, col: 3 });
    expect(f.shared.frames.find((fr) => fr.name === 'stringify')).toEqual({ name: 'stringify' });
    // Stacks are root first.
    expect(p.samples.map((s) => s.map((k) => f.shared.frames[k]!.name).join(';'))).toContain('GET /orders/:id;handleOrder;fib;fib;fib');
  });

  it('uses unit "none" for sample counts', () => {
    const p = treeToSpeedscope(tree, { weight: 'samples' }).profiles[0] as SpeedscopeSampledProfile;
    expect(p.unit).toBe('none');
    expect(p.endValue).toBe(tree.totals.samples);
  });

  it('round-trips paths, positions and weights', () => {
    for (const weight of ['samples', 'wallUs'] as const) {
      const back = speedscopeToTree(JSON.parse(JSON.stringify(treeToSpeedscope(tree, { weight }))));
      const want = new Map([...pathWeights(tree)].map(([k, w]) => [k, w[weight]]));
      const got = new Map([...pathWeights(back)].map(([k, w]) => [k, w[weight]]));
      // Kinds: speedscope has no field for them, so the importer guesses; compare paths by name and place.
      const relabel = (m: Map<string, number>): Map<string, number> => new Map([...m].map(([k, v]) => [k.replace(/(^|\|)[a-z]+\u0000/g, '$1'), v]));
      expect(relabel(got)).toEqual(relabel(want));
    }
  });
});
