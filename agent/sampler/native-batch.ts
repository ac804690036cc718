import { type Frame, makeFrame } from '../../src/model/frame.js';
import type { NativeBatch } from './native-addon.js';
import { type FrameCache, type RawSample, type SampleBatch, stripFileUrl } from './profile-samples.js';

const FIELDS = 7;

/**
 * The leaf under which ticks spent in native code go: code V8 did not interrupt (a builtin without safe
 * points, a synchronous native call, the event loop's own work, garbage collection) that returned into
 * the stack above it.
 */
export const NATIVE_CODE = makeFrame('(native code)', '', 0, 0, 'native');

/**
 * The interrupt sampler's frames by id, for as long as one sampler runs: the addon sends each frame's
 * name and place once, the first time a stack holds it, and ids after that.
 */
export class NativeFrameTable {
  private readonly byId: (Frame | null)[] = [];
  /** Ids whose frame was made before its file's function index was ready (FrameCache.settle). */
  private readonly pending = new Set<number>();
  constructor(private readonly cache: FrameCache) {}

  /** Adds the frames a batch introduces (four entries each: name, script, line, column). */
  extend(frames: readonly (string | number)[]): void {
    for (let i = 0; i + 3 < frames.length; i += 4) {
      const name = String(frames[i]) || '(anonymous)';
      const f = this.cache.get(name, stripFileUrl(String(frames[i + 1])), Number(frames[i + 2]), Number(frames[i + 3]));
      if (f !== null && this.cache.isPending(f)) this.pending.add(this.byId.length);
      this.byId.push(f);
    }
  }

  /** The frame of `id`; one made before its file's function index was ready gets its start once it is. */
  get(id: number): Frame | null {
    const f = this.byId[id] ?? null;
    if (f === null || this.pending.size === 0 || !this.pending.has(id)) return f;
    const settled = this.cache.settle(f);
    if (settled !== f || !this.cache.isPending(f)) {
      this.byId[id] = settled;
      this.pending.delete(id);
    }
    return settled;
  }
}

/**
 * One native batch as samples. Every sample the addon keeps was taken under a context (a request's
 * state), with its stack; ticks without one arrive as bare times (idle, or busy with work no session
 * follows). A sample's weight is the ticks it stands for: one, plus the busy ticks before it in which
 * the thread ran native code that returned into the stack sampled. Those native ticks become a sample
 * of their own, the same stack with NATIVE_CODE as its leaf, so that the JavaScript frame JavaScript
 * resumed in is not shown as running them.
 */
export function nativeBatchToSamples(
  raw: NativeBatch,
  table: NativeFrameTable,
  startUs: number,
  endUs: number,
  intervalUs: number,
  /** Samples whose innermost frame this accepts were taken where the context cannot be trusted: busy time of no one. */
  contextUnreliableAt?: (innermost: Frame) => boolean,
): SampleBatch {
  table.extend(raw.frames);
  const n = raw.samples.length / FIELDS;
  const samples: RawSample[] = [];
  const busy = Array.from(raw.busy);
  for (let i = 0; i < n; i++) {
    const o = i * FIELDS;
    const ts = raw.samples[o]!;
    const weight = raw.samples[o + 2]!;
    const context = raw.contexts[raw.samples[o + 3]!];
    if (context === undefined) continue;
    const start = raw.samples[o + 4]!;
    const stack: Frame[] = [];
    for (let k = start + raw.samples[o + 5]! - 1; k >= start; k--) {
      const frame = table.get(raw.stacks[k]!);
      if (frame !== null) stack.push(frame);
    }
    const innermost = stack[stack.length - 1];
    if (innermost !== undefined && contextUnreliableAt?.(innermost)) {
      for (let w = 0; w < weight; w++) busy.push(ts - w * intervalUs);
      continue;
    }
    const cpuUs = raw.samples[o + 1]!;
    const native = Math.min(weight, raw.samples[o + 6]!);
    // The native ticks came first: the earliest ticks of the sample's span.
    if (native > 0) samples.push({ ts: ts - (weight - native) * intervalUs, context, stack: [...stack, NATIVE_CODE], kind: 'code', cpuUs: (cpuUs * native) / weight, wallUs: native * intervalUs, weight: native });
    const own = weight - native;
    if (own > 0) samples.push({ ts, context, stack, kind: 'code', cpuUs: (cpuUs * own) / weight, wallUs: own * intervalUs, weight: own });
  }
  return { startUs, endUs, intervalUs, samples, idle: Array.from(raw.idle), busy, unplaced: raw.dropped };
}
