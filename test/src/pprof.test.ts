import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Label, Profile } from 'pprof-format';
import { treeToPprof, treeToProfile } from '../../src/export/pprof.js';
import { pprofToTree, pprofToTrees } from '../../src/import/pprof.js';
import { pathWeights, sessionTree } from './fixture-trees.js';

describe('pprof export', () => {
  const tree = sessionTree();
  const bytes = treeToPprof(tree, { sampleIntervalUs: 1000, startTimeMs: 1_764_000_000_123, durationMs: 500 });
  const p = Profile.decode(bytes);
  const str = (i: number | bigint): string => p.stringTable.strings[Number(i)]!;

  it('writes samples/count, wall/nanoseconds, cpu/nanoseconds and the header fields', () => {
    expect(p.sampleType.map((t) => `${str(t.type)}/${str(t.unit)}`)).toEqual(['samples/count', 'wall/nanoseconds', 'cpu/nanoseconds']);
    expect(`${str(p.periodType!.type)}/${str(p.periodType!.unit)}`).toBe('wall/nanoseconds');
    // The period is what the samples stand for (the fixture's waiting samples are 1.25 ms each), not the interval passed.
    expect(Number(p.period)).toBe(Math.round((tree.totals.wallUs / tree.totals.samples) * 1000));
    expect(BigInt(p.timeNanos)).toBe(1_764_000_000_123_000_000n);
    expect(Number(p.durationNanos)).toBe(500_000_000);
    expect(str(p.defaultSampleType)).toBe('wall');
  });

  it('writes one sample per node with self weight, locations leaf first, values in count and ns', () => {
    const withSelf = Array.from({ length: tree.size - 1 }, (_, k) => k + 1).filter((i) => tree.self.samples[i]! > 0);
    expect(p.sample).toHaveLength(withSelf.length);
    const fnById = new Map(p.function.map((f) => [Number(f.id), f]));
    const locById = new Map(p.location.map((l) => [Number(l.id), l]));
    for (const [k, node] of withSelf.entries()) {
      const s = p.sample[k]!;
      const names = s.locationId.map((id) => str(fnById.get(Number(locById.get(Number(id))!.line[0]!.functionId))!.name));
      expect(names).toEqual(tree.stackOf(node).map((f) => f.name).reverse());
      const w = tree.selfOf(node);
      expect(s.value.map(Number)).toEqual([w.samples, w.wallUs * 1000, w.cpuUs * 1000]);
    }
  });

  it('includes synthetic frames as functions, their kind tagged in system_name only', () => {
    const waiting = p.function.find((f) => str(f.name) === '(waiting: I/O and timers)')!;
    expect(waiting).toBeDefined();
    expect(str(waiting.systemName)).toBe('sonde:synthetic:(waiting: I/O and timers)');
    const handler = p.function.find((f) => str(f.name) === 'handleOrder')!;
    expect(str(handler.systemName)).toBe('handleOrder');
    expect(str(handler.filename)).toBe('/app/src/routes/orders.js');
    const line = p.location.find((l) => Number(l.line[0]!.functionId) === Number(handler.id))!.line[0]!;
    expect([Number(line.line), Number(line.column)]).toEqual([12, 3]);
  });

  it('round-trips through pprofToTree: same paths, weights and frame kinds (raw and gunzipped bytes)', () => {
    expect(pathWeights(pprofToTree(bytes))).toEqual(pathWeights(tree));
    expect(pathWeights(pprofToTree(gunzipSync(gzipSync(bytes))))).toEqual(pathWeights(tree));
    expect(pathWeights(pprofToTree(treeToProfile(tree)))).toEqual(pathWeights(tree));
  });

  it('refuses gzipped or garbage bytes with a RangeError that says so', () => {
    expect(() => pprofToTree(gzipSync(bytes))).toThrow(/gzipped; gunzip it first/);
    expect(() => pprofToTree(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]))).toThrow(RangeError);
  });
});

describe('pprof import', () => {
  it('picks weights by sample type and unit, or by explicit index', () => {
    const p = treeToProfile(sessionTree());
    const cpuAsWall = pprofToTree(p, { valueIndex: { wallUs: 2, cpuUs: -1 } });
    expect(cpuAsWall.totals.wallUs).toBe(sessionTree().totals.cpuUs);
    expect(cpuAsWall.totals.cpuUs).toBe(0);
    expect(() => pprofToTree(p, { valueIndex: { wallUs: 0 } })).toThrow(/not a time/);
    expect(() => pprofToTree(p, { valueIndex: { samples: 9 } })).toThrow(/out of range/);
  });

  it('splits samples by label and filters them, accounting for every sample exactly once', () => {
    const base = treeToProfile(sessionTree());
    const key = base.stringTable.dedup('request');
    const a = base.stringTable.dedup('req-a');
    const b = base.stringTable.dedup('req-b');
    base.sample.forEach((s, k) => {
      s.label = k % 3 === 0 ? [] : [new Label({ key, str: k % 3 === 1 ? a : b })];
    });
    const p = Profile.decode(base.encode());
    const split = pprofToTrees(p, (s) => s.labels.request as string | undefined);
    expect([...split.keys()].sort()).toEqual(['req-a', 'req-b']);
    const all = pprofToTree(p);
    const unlabelled = pprofToTree(p, { filter: (s) => s.labels.request === undefined });
    expect(split.get('req-a')!.totals.samples + split.get('req-b')!.totals.samples + unlabelled.totals.samples).toBe(all.totals.samples);
    expect(split.get('req-a')!.totals.samples).toBeGreaterThan(0);
  });

  it('reads a real @datadog/pprof wall profile and splits it by context label', async () => {
    const { time } = await import('@datadog/pprof');
    function spinA(ms: number): number {
      let x = 0;
      const until = Date.now() + ms;
      while (Date.now() < until) for (let i = 0; i < 5000; i++) x = (x * 31 + i) % 1000003;
      return x;
    }
    time.start({ intervalMicros: 2000, withContexts: true, collectCpuTime: false });
    let sink = 0;
    for (let r = 0; r < 6; r++) {
      time.setContext({ request: r % 2 === 0 ? 'even' : 'odd' });
      sink += spinA(25);
      await new Promise((res) => setTimeout(res, 5));
    }
    time.setContext({});
    // The labels callback sees the context that was current when each sample was taken.
    const profile = time.stop(false, ({ context }): Record<string, string> => {
      const request = (context?.context as { request?: string } | undefined)?.request;
      return request ? { request } : {};
    });
    expect(sink).toBeGreaterThanOrEqual(0);
    const all = pprofToTree(profile);
    expect(all.totals.samples).toBeGreaterThan(10);
    expect(all.totals.wallUs).toBeGreaterThan(0);
    const split = pprofToTrees(profile, (s) => (typeof s.labels.request === 'string' ? s.labels.request : 'none'));
    let sum = 0;
    for (const t of split.values()) sum += t.totals.samples;
    expect(sum).toBe(all.totals.samples);
    // The busy function is in the labelled trees, with file and 1-based line from the profile.
    const even = split.get('even');
    expect(even).toBeDefined();
    const spin = even!.frames.find((f) => f.name === 'spinA');
    expect(spin?.file).toMatch(/pprof\.test\.ts$/);
    expect(spin!.line).toBeGreaterThan(1);
  });
});
