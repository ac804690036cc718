// The function index of one file and the lookup the app's thread runs: no parser here (acorn runs in
// the worker, function-parse.ts), so the agent's main bundle does not carry it.
/** Where a function begins: 1-based line and column. */
export interface FunctionStart {
  line: number;
  column: number;
}

/** Per function: start offset, end offset (exclusive), parent function (-1: none), the line and column it is said to begin at. */
export const W = 5;

/** One file's functions, by the offsets of the source text, and where its lines start. */
export interface FileIndex {
  /** W numbers per function, in order of start (a parent before its children). */
  fns: Int32Array;
  count: number;
  /** Offset of each line's first character (line 1 at index 0). */
  lineStarts: Int32Array;
}

/** Bytes an index holds (what the locator counts against its limit). */
export const bytesOf = (index: FileIndex): number => index.fns.byteLength + index.lineStarts.byteLength;

/** The innermost function of `index` around 1-based `line:column`, or null. */
export function functionAt(index: FileIndex, line: number, column: number): FunctionStart | null {
  const { fns, count, lineStarts } = index;
  if (line > lineStarts.length) return null;
  const pos = lineStarts[line - 1]! + (column > 0 ? column - 1 : 0);
  // The last function that starts at or before the position; the innermost one containing it is that
  // one or one of its ancestors (functions nest, so any function starting between the container and
  // the position lies inside the container).
  let lo = 0;
  let hi = count - 1;
  let at = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (fns[mid * W]! <= pos) {
      at = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  for (let f = at; f >= 0; f = fns[f * W + 2]!) {
    if (fns[f * W + 1]! > pos) return { line: fns[f * W + 3]!, column: fns[f * W + 4]! };
  }
  return null;
}
