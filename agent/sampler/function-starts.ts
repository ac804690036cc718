import { type Options, Parser } from 'acorn';
import { isAbsolute } from 'node:path';
import { readBounded } from './read-bounded.js';

/** Where a function begins: 1-based line and column. */
export interface FunctionStart {
  line: number;
  column: number;
}

/** How much a locator may read and keep: it runs inside users' processes, on their thread. */
export interface FunctionStartLimits {
  /**
   * A file larger than this is not parsed: parsing holds the app's thread once per file (about 1.8k
   * instructions per byte once acorn is warm, 4k cold) and its syntax tree takes ~20× the file's size
   * while it lasts (docs/BENCHMARKS.md). App files are far smaller; big bundles go without starts.
   */
  maxFileBytes: number;
  /** Files whose answer (an index or "none") is kept. */
  maxFiles: number;
  /** Bytes of index kept over all files (4 per line, 20 per function). */
  maxIndexBytes: number;
  /** Bytes parsed over the locator's life: past this, files not yet indexed answer null (no thrashing through evictions). */
  maxParseBytes: number;
}

export const DEFAULT_FUNCTION_START_LIMITS: FunctionStartLimits = Object.freeze({
  maxFileBytes: 1024 * 1024,
  maxFiles: 1000,
  maxIndexBytes: 32 * 1024 * 1024,
  maxParseBytes: 64 * 1024 * 1024,
});

const SCRIPT = /\.(?:c|m)?js$/;
/** Per function: start offset, end offset (exclusive), parent function (-1: none), the line and column it is said to begin at. */
const W = 5;

/** One file's functions, by the offsets of the source text, and where its lines start. */
export interface FileIndex {
  /** W numbers per function, in order of start (a parent before its children). */
  fns: Int32Array;
  count: number;
  /** Offset of each line's first character (line 1 at index 0). */
  lineStarts: Int32Array;
}

const bytesOf = (index: FileIndex): number => index.fns.byteLength + index.lineStarts.byteLength;

/**
 * Finds where the function containing a source position begins. The interrupt sampler's frames come
 * from V8's `StackTrace` (a position only; V8 gives an addon no function start), so the agent reads
 * the file once with acorn and keeps, per file, its functions' ranges and its line starts in flat
 * arrays; a lookup is a binary search and a walk up the enclosing functions. Each file is parsed once
 * and its answer kept (least recently used first out, within `limits`); a file that is not JavaScript
 * on disk, too big, unreadable or that does not parse answers null every time after. Never throws.
 */
export class FunctionStarts {
  private readonly files = new Map<string, FileIndex | null>();
  private bytes = 0;
  private parsed = 0;

  constructor(private readonly limits: FunctionStartLimits = DEFAULT_FUNCTION_START_LIMITS) {}

  /**
   * The start of the innermost function whose source contains `line:column` (1-based; column 0:
   * unknown, taken as the line's first character) in `file`; null when none does (top-level code) or
   * the file cannot be read. A method's start is its name's line (`get() {`), as a `def` would be.
   */
  startOf(file: string, line: number, column: number): FunctionStart | null {
    if (line <= 0 || !isAbsolute(file) || !SCRIPT.test(file)) return null;
    const index = this.lookup(file);
    return index === null ? null : functionAt(index, line, column);
  }

  /** How many files have an answer kept (tests and logs). */
  get size(): number {
    return this.files.size;
  }

  private lookup(file: string): FileIndex | null {
    const hit = this.files.get(file);
    if (hit !== undefined) {
      this.files.delete(file);
      this.files.set(file, hit);
      return hit;
    }
    if (this.parsed >= this.limits.maxParseBytes) return null;
    let index: FileIndex | null;
    try {
      const bytes = readBounded(file, Math.min(this.limits.maxFileBytes, this.limits.maxParseBytes - this.parsed));
      if (bytes !== null) this.parsed += bytes.length;
      index = bytes === null ? null : indexFunctions(bytes.toString('utf8'));
    } catch {
      index = null;
    }
    if (index !== null && bytesOf(index) > this.limits.maxIndexBytes) index = null;
    this.files.set(file, index);
    if (index !== null) this.bytes += bytesOf(index);
    for (const [k, v] of this.files) {
      if (this.files.size <= this.limits.maxFiles && this.bytes <= this.limits.maxIndexBytes) break;
      this.files.delete(k);
      if (v !== null) this.bytes -= bytesOf(v);
    }
    return index;
  }
}

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

const OPTIONS: Options = { ecmaVersion: 'latest', allowHashBang: true, allowReturnOutsideFunction: true, allowAwaitOutsideFunction: true, allowImportExportEverywhere: true, allowReserved: true };

/** What the collecting parser records while one parse runs (parses are synchronous: one at a time). */
let sink: { starts: number[]; ends: number[]; named: number[] } | null = null;

type Finishing = { finishNode(node: unknown, type: string): unknown };
type Ranged = { start: number; end: number; value?: Ranged; method?: boolean; kind?: string };

/**
 * acorn's parser, recording each function as it is finished: no walk over the syntax tree afterwards
 * (which cost more than the parse itself). A method's function is finished just before its method
 * node, so the method's start (its name) replaces the function's (its parameters) as the line it is said to begin at.
 */
const CollectingParser = Parser.extend(
  (Base) =>
    class extends (Base as unknown as new (...a: unknown[]) => Finishing) {
      override finishNode(node: Ranged, type: string): unknown {
        const out = super.finishNode(node, type);
        const s = sink;
        if (s === null) return out;
        if (type === 'FunctionDeclaration' || type === 'FunctionExpression' || type === 'ArrowFunctionExpression') {
          s.starts.push(node.start);
          s.ends.push(node.end);
          s.named.push(node.start);
        } else if ((type === 'MethodDefinition' || (type === 'Property' && (node.method === true || node.kind === 'get' || node.kind === 'set'))) && node.value) {
          const last = s.starts.length - 1;
          if (last >= 0 && s.starts[last] === node.value.start) s.named[last] = node.start;
        }
        return out;
      }
    } as unknown as typeof Parser,
);

/** The functions of one JavaScript source as a flat index; null when it parses neither as a script nor as a module. */
export function indexFunctions(code: string): FileIndex | null {
  const collected = { starts: [] as number[], ends: [] as number[], named: [] as number[] };
  const parseAs = (sourceType: 'script' | 'module'): boolean => {
    collected.starts.length = collected.ends.length = collected.named.length = 0;
    sink = collected;
    try {
      CollectingParser.parse(code, { ...OPTIONS, sourceType });
      return true;
    } catch {
      return false;
    } finally {
      sink = null;
    }
  };
  // As a script first, which with `allowImportExportEverywhere` reads ES modules too: acorn checks a
  // module's top-level names for redeclaration by a linear search each (30,000 top-level functions:
  // 1.6 s as a module, 0.4 s as a script), and CommonJS may use what a module may not (`with`, octal).
  if (!parseAs('script') && !parseAs('module')) return null;
  const lineStarts = lineStartsOf(code);
  const { starts, ends, named } = collected;
  const count = starts.length;
  // Finished children come before their parents: order by start (a parent first on a tie, being longer).
  const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => starts[a]! - starts[b]! || ends[b]! - ends[a]!);
  const fns = new Int32Array(count * W);
  const open: number[] = [];
  order.forEach((f, i) => {
    const start = starts[f]!;
    while (open.length > 0 && fns[open[open.length - 1]! * W + 1]! <= start) open.pop();
    const line = lineOf(lineStarts, named[f]!);
    const o = i * W;
    fns[o] = start;
    fns[o + 1] = ends[f]!;
    fns[o + 2] = open.length > 0 ? open[open.length - 1]! : -1;
    fns[o + 3] = line;
    fns[o + 4] = named[f]! - lineStarts[line - 1]! + 1;
    open.push(i);
  });
  return { fns, count, lineStarts };
}

/** Offsets of line starts, with the line terminators JavaScript (and so V8 and acorn) counts: \n, \r\n, \r, U+2028, U+2029. */
function lineStartsOf(code: string): Int32Array {
  const out: number[] = [0];
  for (let i = 0; i < code.length; i++) {
    const c = code.charCodeAt(i);
    if (c === 10 || c === 0x2028 || c === 0x2029) out.push(i + 1);
    else if (c === 13) {
      if (code.charCodeAt(i + 1) === 10) i++;
      out.push(i + 1);
    }
  }
  return Int32Array.from(out);
}

/** The 1-based line of an offset. */
function lineOf(lineStarts: Int32Array, offset: number): number {
  let lo = 0;
  let hi = lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (lineStarts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}
