import { type Frame, frameKey, makeFrame, SYNTHETIC, withFunctionLine } from '../../src/model/frame.js';
import { type FunctionStart, type FunctionStarts, PENDING } from './function-starts.js';
import type { SourceMapResolver } from './source-maps.js';

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
  /** The sampler ticks this sample stands for: 1 for V8's sampler; the interrupt sampler adds busy ticks spent in native code that returned into this stack. */
  weight: number;
  /** The wall time this sample stands for: its weight times the batch's effective interval. */
  wallUs: number;
}

/**
 * The samples of one collect. Only samples taken while a context was current carry a stack; of the
 * rest only the time matters (is the thread idle, or busy with work no session follows), so they are
 * kept as bare timestamps: at low load most samples are idle.
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

/** A batch with no samples, covering nothing, at `atUs` (what a sampler that is not running hands back). */
export function emptyBatch(atUs: number): SampleBatch {
  return { startUs: atUs, endUs: atUs, intervalUs: 0, samples: [], idle: [], busy: [], unplaced: 0 };
}

/**
 * One Frame object per source location for as long as the sampler lives, so trees built from samples
 * of different batches can match frames by identity. Bounded: a process that keeps compiling new code
 * (eval, templates) starts the cache over rather than growing it. With a source map resolver, frames of
 * compiled code name their original file and line (and say which compiled file they were mapped from);
 * several compiled places that map to one original place share one Frame. Each frame carries its
 * function's start line (Frame.functionLine) where known: given by the sampler (V8's), or found by
 * `functionStarts` from the position (the interrupt sampler's), and for a mapped frame mapped too.
 * While a file's index is still being built (in the worker), its frames go without a start and are
 * remembered as pending: `settle` gives the frame with its start once the index is there.
 */
export class FrameCache {
  private readonly map = new Map<string, Frame | null>();
  private readonly mappedFrames = new Map<string, Frame>();
  /** Frames made while their file's index was not ready: how to place them again, and their key in `map`. */
  private readonly pending = new Map<Frame, { key: string; name: string; file: string; line: number; column: number }>();
  /** Pending frames settled since, to what they became: holders of the old object (a NativeFrameTable, a request's samples) get the new one. */
  private settled = new WeakMap<Frame, Frame>();
  constructor(
    private readonly hideFile: (file: string) => boolean,
    private readonly max = 50_000,
    private readonly sourceMaps?: SourceMapResolver,
    private readonly functionStarts?: FunctionStarts,
  ) {}

  /**
   * A frame for a sampled place. `column` (1-based, 0 unknown) sharpens source map and function
   * lookups; frames keep lines only. `start`: the function's own start when the sampler knows it.
   */
  get(name: string, file: string, line: number, column = 0, start?: FunctionStart): Frame | null {
    const col = this.sourceMaps === undefined && this.functionStarts === undefined ? 0 : column;
    const key = start === undefined ? `${name}\u0000${file}\u0000${line}\u0000${col}` : `${name}\u0000${file}\u0000${line}\u0000${col}\u0000${start.line}\u0000${start.column}`;
    let f = this.map.get(key);
    if (f === undefined) {
      f = toFrame(name, file, line, this.hideFile);
      let pending = false;
      if (f !== null && f.kind === 'code') {
        const placed = this.placed(f, col, start);
        pending = placed === PENDING;
        f = placed === PENDING ? this.unplaced(f, col) : placed;
      }
      if (this.map.size >= this.max) {
        this.map.clear();
        this.mappedFrames.clear();
        this.pending.clear();
        this.settled = new WeakMap();
      }
      this.map.set(key, f);
      if (pending && f !== null) this.pending.set(f, { key, name, file, line, column: col });
    }
    return f;
  }

  /** Frames still waiting for their file's index (0: `settle` has nothing to do). */
  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * `f` with its function's start if it was made while its file's index was being built and the index
   * (or the answer that there is none) has arrived since; otherwise `f` itself. µs: a map lookup.
   */
  settle(f: Frame): Frame {
    const p = this.pending.get(f);
    if (p === undefined) return this.settled.get(f) ?? f;
    const base = toFrame(p.name, p.file, p.line, this.hideFile);
    if (base === null) return f;
    const placed = this.placed(base, p.column, undefined);
    if (placed === PENDING) return f;
    this.pending.delete(f);
    this.settled.set(f, placed);
    this.map.set(p.key, placed);
    return placed;
  }

  /** Whether `f` was made before its file's index was ready and has not been settled since. */
  isPending(f: Frame): boolean {
    return this.pending.has(f);
  }

  /** A frame whose start is not known yet: mapped where a map applies, a fresh object (settle tells it apart). */
  private unplaced(f: Frame, column: number): Frame {
    const at = this.sourceMaps?.resolve(f.file, f.line, column) ?? null;
    return at === null ? makeFrame(f.name, f.file, f.line, 0, 'code') : makeFrame(f.name, at.file, at.line, 0, 'code', f.file);
  }

  /** A code frame with its function's start line, through the source map where one applies. */
  private placed(f: Frame, column: number, known: FunctionStart | undefined): Frame | typeof PENDING {
    let start: FunctionStart | null | undefined | typeof PENDING = known;
    if (start === undefined && this.functionStarts !== undefined) {
      try {
        start = this.functionStarts.startOf(f.file, f.line, column);
      } catch {
        start = null; // never into the app: the frame goes without its start
      }
      if (start === PENDING) return PENDING;
    }
    const at = this.sourceMaps?.resolve(f.file, f.line, column) ?? null;
    if (at === null) return start ? withFunctionLine(f, start.line) : f;
    // The original function begins where its compiled start maps to, in the same original file.
    const mappedStart = start ? this.sourceMaps!.resolve(f.file, start.line, start.column) : null;
    const functionLine = mappedStart !== null && mappedStart.file === at.file && mappedStart.line <= at.line ? mappedStart.line : undefined;
    const frame = makeFrame(f.name, at.file, at.line, 0, 'code', f.file, functionLine);
    const k = `${frameKey(frame)}\u0000${functionLine ?? 0}`;
    const known2 = this.mappedFrames.get(k);
    if (known2 !== undefined) return known2;
    this.mappedFrames.set(k, frame);
    return frame;
  }
}

/** A node of the profile the wall profiler hands back on stop: V8's call tree, with per-sample contexts. */
export interface TimeProfileNode {
  name: string;
  scriptName: string;
  /**
   * With the profiler's line numbers off (how the wall sampler starts it), V8's CpuProfileNode::GetLineNumber
   * and GetColumnNumber: where the node's function begins (its CodeEntry's position), 1-based, 0 unknown.
   */
  lineNumber: number;
  columnNumber?: number;
  hitCount: number;
  children: TimeProfileNode[];
  /** One entry per sample taken in this node (when the profiler keeps contexts). */
  contexts?: ContextRecord[];
}

/** The wall profiler's raw profile. `startTime`/`endTime` are in microseconds. */
export interface TimeProfile {
  startTime: number;
  endTime: number;
  topDownRoot: TimeProfileNode;
  totalHitCount?: number;
}

const IDLE_NAME = '(idle)';
const FILE_URL = 'file://';

/**
 * Turns the wall profiler's raw call tree into individual samples. Each sample arrives as a context
 * record on the node it hit; only samples taken under a context need their stack, so the walk builds
 * frames for those alone and touches nothing but the node objects for the rest (at low load nearly
 * every sample is idle). Walking the raw tree, rather than the pprof form the library can make of it,
 * skips a location key string, a stack copy and a pprof Sample per node at every collect.
 */
export function timeProfileToSamples(
  profile: TimeProfile,
  startUs: number,
  endUs: number,
  nominalIntervalUs: number,
  frameCache: FrameCache,
): SampleBatch {
  const intervalUs = effectiveInterval(profile, nominalIntervalUs);
  const samples: RawSample[] = [];
  const idle: number[] = [];
  const busy: number[] = [];
  let unplaced = 0;
  // Depth-first, keeping the path from the root so a sample's stack is read off it only when needed.
  const path: TimeProfileNode[] = [];
  const pending: { node: TimeProfileNode; depth: number }[] = [];
  for (const child of profile.topDownRoot.children) pending.push({ node: child, depth: 0 });
  while (pending.length > 0) {
    const { node, depth } = pending.pop()!;
    path.length = depth;
    path.push(node);
    const contexts = node.contexts;
    const placed = contexts === undefined ? 0 : contexts.length;
    if (node.hitCount > placed) unplaced += node.hitCount - placed;
    if (placed > 0) {
      const isIdle = node.name === IDLE_NAME;
      let stack: readonly Frame[] | undefined;
      let kind: SampleKind = 'code';
      for (const record of contexts!) {
        if (record.timestamp === 0n) {
          unplaced++;
          continue;
        }
        const ts = Number(record.timestamp);
        if (isIdle) idle.push(ts);
        else if (record.context === undefined) busy.push(ts);
        else {
          if (stack === undefined) {
            const frames: Frame[] = [];
            for (const n of path) {
              // One node per function: its line is the function's start, the only line V8 gives here.
              const column = n.columnNumber !== undefined && n.columnNumber > 0 ? n.columnNumber : 0;
              const frame = frameCache.get(n.name, stripFileUrl(n.scriptName), n.lineNumber, column, n.lineNumber > 0 ? { line: n.lineNumber, column } : undefined);
              if (frame === null) continue;
              if (frame === SYNTHETIC.gc) kind = 'gc';
              frames.push(frame);
            }
            stack = frames;
          }
          samples.push({ ts, context: record.context, stack, kind, cpuUs: (record.cpuTime ?? 0) / 1000, wallUs: intervalUs, weight: 1 });
        }
      }
    }
    for (const child of node.children) pending.push({ node: child, depth: depth + 1 });
  }
  samples.sort((a, b) => a.ts - b.ts);
  return { startUs, endUs, intervalUs, samples, idle, busy, unplaced };
}

/**
 * The wall time one sample stands for. Timer signals arrive late, so samples are in practice further
 * apart than asked (12.5 ms for 10 ms, say): the window's length over its hits, kept between the
 * nominal interval and twice it (a window with one hit says little).
 */
function effectiveInterval(profile: TimeProfile, nominalUs: number): number {
  const hits = profile.totalHitCount ?? countHits(profile.topDownRoot);
  if (hits <= 0) return nominalUs;
  return Math.min(Math.max(Math.floor((profile.endTime - profile.startTime) / hits), nominalUs), 2 * nominalUs);
}

function countHits(root: TimeProfileNode): number {
  let hits = 0;
  const pending = [root];
  while (pending.length > 0) {
    const n = pending.pop()!;
    hits += n.hitCount;
    for (const c of n.children) pending.push(c);
  }
  return hits;
}

/** ES modules' script names are URLs; frames carry paths, as CommonJS ones do. */
export function stripFileUrl(scriptName: string): string {
  return scriptName.startsWith(FILE_URL) ? scriptName.slice(FILE_URL.length) : scriptName;
}

/** A profiler location as a Sonde frame; null for frames that are only packaging (hidden or runtime roots). */
function toFrame(name: string, file: string, line: number, hideFile: (file: string) => boolean): Frame | null {
  if (name === IDLE_NAME) return SYNTHETIC.idle;
  if (name === '(garbage collector)') return SYNTHETIC.gc;
  if (name === '(program)') return SYNTHETIC.program;
  if (name === '(root)' && file === '') return null;
  if (file !== '' && hideFile(file)) return null;
  // V8 reports 1-based lines for profile nodes here (CpuProfileNode::GetLineNumber); 0 means unknown.
  return makeFrame(name, file, Number.isFinite(line) && line > 0 ? line : 0, 0, file === '' ? 'native' : 'code');
}
