import type { Frame } from '../../src/model/frame.js';
import type { NativeBatch } from './native-addon.js';
import type { FrameCache, RawSample, SampleBatch } from './profile-samples.js';

const FILE_URL = 'file://';
const FIELDS = 6;

/**
 * The interrupt sampler's frames by id, for as long as one sampler runs: the addon sends each frame's
 * name and place once, the first time a stack holds it, and ids after that.
 */
export class NativeFrameTable {
  private readonly byId: (Frame | null)[] = [];
  constructor(private readonly cache: FrameCache) {}

  /** Adds the frames a batch introduces (four entries each: name, script, line, column). */
  extend(frames: readonly (string | number)[]): void {
    for (let i = 0; i + 3 < frames.length; i += 4) {
      const name = String(frames[i]) || '(anonymous)';
      const script = String(frames[i + 1]);
      const file = script.startsWith(FILE_URL) ? script.slice(FILE_URL.length) : script;
      this.byId.push(this.cache.get(name, file, Number(frames[i + 2])));
    }
  }

  get(id: number): Frame | null {
    return this.byId[id] ?? null;
  }
}

/**
 * One native batch as samples. Every sample the addon keeps was taken under a context (a request's
 * state), with its stack; ticks without one arrive as bare times (idle, or busy with work no session
 * follows). A sample's weight is the ticks it stands for: one, plus the busy ticks before it in which
 * the thread ran native code that returned into the stack sampled.
 */
export function nativeBatchToSamples(raw: NativeBatch, table: NativeFrameTable, startUs: number, endUs: number, intervalUs: number): SampleBatch {
  table.extend(raw.frames);
  const n = raw.samples.length / FIELDS;
  const samples: RawSample[] = [];
  for (let i = 0; i < n; i++) {
    const o = i * FIELDS;
    const weight = raw.samples[o + 2]!;
    const context = raw.contexts[raw.samples[o + 3]!];
    if (context === undefined) continue;
    const start = raw.samples[o + 4]!;
    const stack: Frame[] = [];
    for (let k = start + raw.samples[o + 5]! - 1; k >= start; k--) {
      const frame = table.get(raw.stacks[k]!);
      if (frame !== null) stack.push(frame);
    }
    samples.push({ ts: raw.samples[o]!, context, stack, kind: 'code', cpuUs: raw.samples[o + 1]!, wallUs: weight * intervalUs, weight });
  }
  return { startUs, endUs, intervalUs, samples, idle: Array.from(raw.idle), busy: Array.from(raw.busy), unplaced: raw.dropped };
}
