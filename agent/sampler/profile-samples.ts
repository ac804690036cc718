import type { Profile } from 'pprof-format';
import { type Frame, makeFrame, SYNTHETIC } from '../../src/model/frame.js';

/** What the profiler recorded with one sample: the context current at that instant, when, and CPU. */
export interface ContextRecord {
  context?: object;
  /** Epoch microseconds. */
  timestamp: bigint;
  /** Thread CPU time since the previous sample, nanoseconds. */
  cpuTime?: number;
}

/** What the thread was doing at a sample that ran code. */
export type SampleKind = 'code' | 'gc';

/** One sample taken while a context was current: placed in time, with its stack. */
export interface RawSample {
  /** Epoch microseconds. */
  ts: number;
  /** The context current when the sample was taken (a request's state). */
  context: object;
  /** Root-most frame first. */
  stack: readonly Frame[];
  kind: SampleKind;
  cpuUs: number;
  /** The wall time this sample stands for: its batch's effective interval. */
  wallUs: number;
}

/**
 * The samples of one collect. Only samples taken while a context was current carry a stack; of the
 * rest only the time matters (is the thread idle, or busy with work no session follows), so they are
 * kept as bare timestamps and never become pprof samples: at low load most samples are idle.
 */
export interface SampleBatch {
  /** The epoch-µs span the batch covers. */
  startUs: number;
  endUs: number;
  /** Effective time between samples, µs: the wall time one sample stands for. */
  intervalUs: number;
  /** Samples with a context, sorted by time. */
  samples: RawSample[];
  /** Times of samples where the thread was idle (whatever the context). */
  idle: number[];
  /** Times of samples where the thread ran code under no context. */
  busy: number[];
  /** Samples the profiler kept without a time (they cannot be placed). */
  unplaced: number;
}

/** Sorts the context-less samples out while the profiler serialises, before pprof objects are made. */
export class SampleSink {
  readonly contexts: ContextRecord[] = [];
  readonly idle: number[] = [];
  readonly busy: number[] = [];

  /** The profiler's label callback: a label only for samples whose stack is needed. */
  label(node: { name?: string }, context: ContextRecord | undefined): Record<string, number> {
    if (!context || context.timestamp === 0n) return {};
    const ts = Number(context.timestamp);
    if (node.name === '(idle)') this.idle.push(ts);
    else if (context.context === undefined) this.busy.push(ts);
    else {
      this.contexts.push(context);
      return { s: this.contexts.length - 1 };
    }
    return {};
  }
}

/**
 * One Frame object per source location for as long as the sampler lives, so trees built from samples
 * of different batches can match frames by identity. Bounded: a process that keeps compiling new code
 * (eval, templates) starts the cache over rather than growing it.
 */
export class FrameCache {
  private readonly map = new Map<string, Frame | null>();
  constructor(
    private readonly hideFile: (file: string) => boolean,
    private readonly max = 50_000,
  ) {}

  get(name: string, file: string, line: number): Frame | null {
    const key = `${name}\u0000${file}\u0000${line}`;
    let f = this.map.get(key);
    if (f === undefined) {
      f = toFrame(name, file, line, this.hideFile);
      if (this.map.size >= this.max) this.map.clear();
      this.map.set(key, f);
    }
    return f;
  }
}

const GC_NAME = 'Garbage Collection';
const RUNTIME_NAME = 'Node.js';

/**
 * Turns the wall profiler's pprof output back into individual samples. The profiler aggregates by
 * stack; each sample with a context was emitted as a pprof sample carrying a numeric label `s` that
 * indexes the sink's contexts, which is how it gets its time and context back.
 */
export function profileToSamples(
  profile: Profile,
  sink: SampleSink,
  startUs: number,
  endUs: number,
  nominalIntervalUs: number,
  frameCache: FrameCache,
): SampleBatch {
  const strings = profile.stringTable.strings;
  const sKey = strings.indexOf('s');
  const functions = new Map<number, { name: string; file: string }>();
  for (const f of profile.function) functions.set(Number(f.id), { name: strings[Number(f.name)] ?? '', file: strings[Number(f.filename)] ?? '' });

  const frameOf = new Map<number, Frame | null>();
  for (const loc of profile.location) {
    const line = loc.line[0];
    const fn = line ? functions.get(Number(line.functionId)) : undefined;
    frameOf.set(Number(loc.id), fn ? frameCache.get(fn.name, fn.file, Number(line!.line)) : null);
  }

  const period = profile.period ? Number(profile.period) / 1000 : 0;
  const intervalUs = period > 0 ? period : nominalIntervalUs;
  const samples: RawSample[] = [];
  let unlabelled = 0;
  for (const s of profile.sample) {
    const hits = Number(s.value[0] ?? 0);
    if (hits === 0) continue; // CPU-only rows (non-JS threads): no wall sample behind them
    const label = sKey < 0 ? undefined : s.label.find((l) => Number(l.key) === sKey);
    const record = label === undefined ? undefined : sink.contexts[Number(label.num)];
    if (!record) {
      unlabelled += hits;
      continue;
    }
    const stack: Frame[] = [];
    let kind: SampleKind = 'code';
    // pprof lists the leaf first.
    for (let i = s.locationId.length - 1; i >= 0; i--) {
      const frame = frameOf.get(Number(s.locationId[i]));
      if (frame === null || frame === undefined) continue;
      if (frame === SYNTHETIC.gc) kind = 'gc';
      stack.push(frame);
    }
    samples.push({ ts: Number(record.timestamp), context: record.context!, stack, kind, cpuUs: (record.cpuTime ?? 0) / 1000, wallUs: intervalUs });
  }
  samples.sort((a, b) => a.ts - b.ts);
  // Unlabelled rows hold the idle and context-less samples the sink timed, plus any hit the profiler
  // kept without a time: those are the unplaced ones.
  const unplaced = Math.max(0, unlabelled - sink.idle.length - sink.busy.length);
  return { startUs, endUs, intervalUs, samples, idle: sink.idle, busy: sink.busy, unplaced };
}

/** A profiler location as a Sonde frame; null for frames that are only packaging (hidden or runtime roots). */
function toFrame(name: string, file: string, line: number, hideFile: (file: string) => boolean): Frame | null {
  if (name === '(idle)') return SYNTHETIC.idle;
  if (name === GC_NAME || name === '(garbage collector)') return SYNTHETIC.gc;
  if (name === '(program)') return SYNTHETIC.program;
  if (name === RUNTIME_NAME && file === '') return null;
  if (file !== '' && hideFile(file)) return null;
  // V8 reports 1-based lines for profile nodes here (CpuProfileNode::GetLineNumber); 0 means unknown.
  return makeFrame(name, file, Number.isFinite(line) && line > 0 ? line : 0, 0, file === '' ? 'native' : 'code');
}
