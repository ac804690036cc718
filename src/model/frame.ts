import { type AppRoots, displayWhere } from './source-path.js';

/**
 * A frame is one function at one place in the source. Frames are values: two frames with the same
 * function, file, line, column and kind are the same frame, wherever they appear in a tree.
 *
 * Lines and columns are 1-based everywhere in Sonde. Importers normalise at the boundary (V8 reports
 * 0-based positions; they become 1-based once, when a V8 profile is read). 0 means "unknown".
 */
export type FrameKind =
  /** Code of the profiled runtime's language (JavaScript, Python). */
  | 'code'
  /** Native code: C++ builtins, addons, C extensions. */
  | 'native'
  /** Garbage collection. */
  | 'gc'
  /** The thread had nothing to run (event loop waiting, sampler saw no Python frame). */
  | 'idle'
  /** Runtime work not attributable to a function (V8's "(program)"). */
  | 'program'
  /**
   * A synthetic frame Sonde adds: the request-type root, "(waiting: I/O and timers)",
   * "(other requests)", "(pruned)". Views show these differently from real code.
   */
  | 'synthetic';

export const FRAME_KINDS: readonly FrameKind[] = ['code', 'native', 'gc', 'idle', 'program', 'synthetic'];

export interface Frame {
  readonly name: string;
  /** A path or URL as the runtime reports it; '' when unknown. */
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly kind: FrameKind;
  /**
   * Set when the agent resolved this frame through a source map: the compiled file the runtime ran
   * (`dist/server.js`), while `file` and `line` name the original source. Not part of the frame's
   * identity: one original place is one frame.
   */
  readonly mappedFrom?: string;
  /**
   * The 1-based line where this frame's function begins (its `function`/`def` line; for a source-mapped
   * frame, in the original file), when the agent knows it. Not part of `frameKey` (the line-level
   * identity); part of `functionKey` (by-function.ts), so same-named functions of one file stay apart.
   */
  readonly functionLine?: number;
}

/** A key that is equal for equal frames: the identity used to merge trees. */
export function frameKey(frame: Frame): string {
  return `${frame.kind}\u0000${frame.name}\u0000${frame.file}\u0000${frame.line}\u0000${frame.column}`;
}

/** Builds a frame, rejecting values that would corrupt a profile later. */
export function makeFrame(name: string, file = '', line = 0, column = 0, kind: FrameKind = 'code', mappedFrom?: string, functionLine?: number): Frame {
  if (typeof name !== 'string') throw new TypeError('frame name must be a string');
  if (!Number.isInteger(line) || line < 0) throw new RangeError(`frame line must be a whole number >= 0, got ${line}`);
  if (!Number.isInteger(column) || column < 0) throw new RangeError(`frame column must be a whole number >= 0, got ${column}`);
  if (!FRAME_KINDS.includes(kind)) throw new RangeError(`unknown frame kind ${String(kind)}`);
  if (mappedFrom !== undefined && (typeof mappedFrom !== 'string' || mappedFrom === '')) throw new TypeError('frame mappedFrom must be a non-empty string');
  if (functionLine !== undefined && (!Number.isInteger(functionLine) || functionLine < 1)) throw new RangeError(`frame functionLine must be a whole number >= 1, got ${functionLine}`);
  const n = name === '' ? '(anonymous)' : name;
  const frame: { -readonly [K in keyof Frame]: Frame[K] } = { name: n, file, line, column, kind };
  if (mappedFrom !== undefined) frame.mappedFrom = mappedFrom;
  if (functionLine !== undefined) frame.functionLine = functionLine;
  return Object.freeze(frame);
}

/** The same frame with its function's start line set (or kept as it is when `functionLine` is undefined). */
export function withFunctionLine(frame: Frame, functionLine: number | undefined): Frame {
  if (functionLine === undefined || frame.functionLine === functionLine) return frame;
  return makeFrame(frame.name, frame.file, frame.line, frame.column, frame.kind, frame.mappedFrom, functionLine);
}

/** Short label for views: `name file:line`, the file shown by the one rule of source-path.ts (relative to `roots`, the apps' roots). */
export function frameLabel(frame: Frame, roots?: AppRoots): string {
  return frame.file ? `${frame.name} ${displayWhere(frame.file, frame.line, roots)}` : frame.name;
}

/** Synthetic frames Sonde adds to trees; views and exporters may style them apart. */
export const SYNTHETIC = Object.freeze({
  waiting: makeFrame('(waiting: I/O and timers)', '', 0, 0, 'synthetic'),
  otherWork: makeFrame('(blocked by other work on the thread)', '', 0, 0, 'synthetic'),
  pruned: makeFrame('(pruned)', '', 0, 0, 'synthetic'),
  idle: makeFrame('(idle)', '', 0, 0, 'idle'),
  gc: makeFrame('(garbage collector)', '', 0, 0, 'gc'),
  program: makeFrame('(program)', '', 0, 0, 'program'),
});
