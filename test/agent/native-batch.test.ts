import { describe, expect, it } from 'vitest';
import { attributeBatch } from '../../agent/profiling/attribute-batch.js';
import { RequestState } from '../../agent/profiling/request-state.js';
import type { NativeBatch } from '../../agent/sampler/native-addon.js';
import { NATIVE_CODE, NativeFrameTable, nativeBatchToSamples } from '../../agent/sampler/native-batch.js';
import { FrameCache } from '../../agent/sampler/profile-samples.js';

// Batches as the interrupt sampler's addon hands them over, built by hand.
const requestA = { name: 'A' };
const sample = (ts: number, cpuUs: number, weight: number, context: number, stackStart: number, stackLen: number, native = 0): number[] => [ts, cpuUs, weight, context, stackStart, stackLen, native];
function batch(over: Partial<NativeBatch>): NativeBatch {
  return { samples: new Float64Array(), stacks: new Uint32Array(), contexts: [], frames: [], idle: new Float64Array(), busy: new Float64Array(), dropped: 0, ...over };
}

describe('nativeBatchToSamples', () => {
  const table = () => new NativeFrameTable(new FrameCache((file) => file.includes('/sonde/agent/')));

  it('turns frame ids (innermost first) into root-first stacks, hiding the agent and naming anonymous functions', () => {
    const t = table();
    const raw = batch({
      // 0 handler, 1 an anonymous callback, 2 the agent's wrapper, 3 the route
      frames: ['handler', 'file:///app/server.mjs', 12, 3, '', '/app/lib.js', 40, 9, 'wrap', '/x/sonde/agent/hook.js', 5, 1, 'route', '/app/router.js', 7, 1],
      stacks: Uint32Array.from([1, 0, 2, 3]),
      samples: Float64Array.from(sample(1_000, 800, 1, 0, 0, 4)),
      contexts: [requestA],
      idle: Float64Array.from([900]),
      busy: Float64Array.from([950]),
      dropped: 2,
    });
    const b = nativeBatchToSamples(raw, t, 500, 1_500, 1_000);
    expect(b.samples).toHaveLength(1);
    const s = b.samples[0]!;
    expect(s.stack.map((f) => `${f.name} ${f.file}:${f.line}`)).toEqual(['route /app/router.js:7', 'handler /app/server.mjs:12', '(anonymous) /app/lib.js:40']);
    expect(s).toMatchObject({ ts: 1_000, context: requestA, cpuUs: 800, weight: 1, wallUs: 1_000, kind: 'code' });
    expect(b).toMatchObject({ startUs: 500, endUs: 1_500, intervalUs: 1_000, idle: [900], busy: [950], unplaced: 2 });
  });

  it('keeps the frames a batch introduced for the batches after it, as the same objects', () => {
    const t = table();
    const first = nativeBatchToSamples(batch({ frames: ['f', '/app/a.js', 1, 1], stacks: Uint32Array.from([0]), samples: Float64Array.from(sample(10, 0, 1, 0, 0, 1)), contexts: [requestA] }), t, 0, 100, 10);
    const second = nativeBatchToSamples(batch({ stacks: Uint32Array.from([0]), samples: Float64Array.from(sample(110, 0, 2, 0, 0, 1)), contexts: [requestA] }), t, 100, 200, 10);
    expect(second.samples[0]!.stack[0]).toBe(first.samples[0]!.stack[0]);
    expect(second.samples[0]).toMatchObject({ weight: 2, wallUs: 20 });
  });

  it('puts ticks spent in native code under a (native code) leaf of the stack JavaScript resumed in, at the ticks before its own', () => {
    const b = nativeBatchToSamples(batch({ frames: ['use', '/app/a.js', 3, 1], stacks: Uint32Array.from([0]), samples: Float64Array.from(sample(1_000, 400, 4, 0, 0, 1, 3)), contexts: [requestA] }), table(), 0, 2_000, 100);
    expect(b.samples.map((s) => [s.ts, s.weight, s.cpuUs, s.stack.map((f) => f.name).join(' > ')])).toEqual([
      [900, 3, 300, 'use > (native code)'],
      [1_000, 1, 100, 'use'],
    ]);
    expect(b.samples[0]!.stack.at(-1)).toBe(NATIVE_CODE);
    expect(NATIVE_CODE.kind).toBe('native');
  });

  it('makes samples taken where the context cannot be trusted busy time of no one', () => {
    const b = nativeBatchToSamples(
      batch({ frames: ['emitHook', 'node:internal/async_hooks', 225, 1], stacks: Uint32Array.from([0]), samples: Float64Array.from(sample(1_000, 0, 2, 0, 0, 1)), contexts: [requestA], busy: Float64Array.from([500]) }),
      table(),
      0,
      2_000,
      100,
      (f) => f.file === 'node:internal/async_hooks',
    );
    expect(b.samples).toEqual([]);
    expect(b.busy).toEqual([500, 1_000, 900]);
  });
});

describe('attributeBatch with samples that stand for several ticks', () => {
  it("charges a request only the ticks inside its life, and leaves earlier ones as others' work", () => {
    const r = new RequestState(1_000, []);
    r.endUs = 2_000;
    const other = new RequestState(0, []);
    other.endUs = 2_000;
    const t = table();
    // One sample of r at 1_150 standing for three ticks (1_150, 1_050, 950): 950 is before r started.
    const b = nativeBatchToSamples(
      batch({ frames: ['f', '/app/a.js', 1, 1], stacks: Uint32Array.from([0]), samples: Float64Array.from(sample(1_150, 300, 3, 0, 0, 1)), contexts: [r], idle: Float64Array.from([1_300, 1_400]), busy: Float64Array.from([1_500]) }),
      t,
      0,
      2_000,
      100,
    );
    attributeBatch(b, [r, other]);
    expect(r.own).toHaveLength(1);
    expect(r.own[0]).toMatchObject({ weight: 2, wallUs: 200, cpuUs: 200 });
    expect(r.waitingSamples).toBe(2);
    expect(r.blockedSamples).toBe(1);
    // `other` was in flight for all of it: r's three ticks and the busy one held it up, the idle ones were waiting.
    expect(other.blockedSamples).toBe(4);
    expect(other.waitingSamples).toBe(2);
  });

  // The addon stamps ticks with epoch µs and their fraction (uv_hrtime / 1000 + an offset); the
  // timeline's idle flag is the low bit of the doubled time, which a fraction must not disturb (it once
  // did: of the ten ticks below, about half were lost or read as the other kind).
  it('counts every tick of a request stamped with fractions of a microsecond', () => {
    const start = 1_796_085_204_106_123.25;
    const r = new RequestState(start, []);
    r.endUs = start + 20_000;
    const at = (i: number, fraction: number): number => start + 1_000 + i * 2_000 + fraction;
    const idle = [0, 1, 2, 3, 4, 5].map((i) => at(i, [0.25, 0.5, 0.75, 0.125, 0.625, 0][i]!));
    const busy = [6, 7, 8, 9].map((i) => at(i, [0.5, 0.25, 0.75, 0][i - 6]!));
    const b = nativeBatchToSamples(batch({ idle: Float64Array.from(idle), busy: Float64Array.from(busy) }), table(), start - 1_000, start + 30_000, 2_000);
    attributeBatch(b, [r]);
    expect(r.waitingSamples).toBe(6);
    expect(r.blockedSamples).toBe(4);
  });

  function table(): NativeFrameTable {
    return new NativeFrameTable(new FrameCache(() => false));
  }
});
