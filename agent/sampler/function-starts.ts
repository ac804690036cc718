import { parse } from 'acorn';
import { isAbsolute } from 'node:path';
import { readBounded } from './read-bounded.js';

/** Where a function begins: 1-based line and column. */
export interface FunctionStart {
  line: number;
  column: number;
}

/** How much a locator may read and keep: it runs inside users' processes, on their thread. */
export interface FunctionStartLimits {
  /** A file larger than this is not parsed (parsing costs ~50 ms per MiB and ~10× its size in transient heap). */
  maxFileBytes: number;
  /** Files whose answer (an index or "none") is kept. */
  maxFiles: number;
  /** Functions kept over all indexed files (24 bytes each). */
  maxFunctions: number;
}

export const DEFAULT_FUNCTION_START_LIMITS: FunctionStartLimits = Object.freeze({
  maxFileBytes: 16 * 1024 * 1024,
  maxFiles: 1000,
  maxFunctions: 1_000_000,
});

const SCRIPT = /\.(?:c|m)?js$/;
/** Per function: range start line, start column (1-based), end line, end column, parent function (-1: none), the line it is said to begin at. */
const W = 6;

interface FileIndex {
  /** W numbers per function, functions in source order of their start (pre-order: a parent before its children). */
  fns: Int32Array;
  count: number;
}

type AstNode = { type: string; loc?: { start: { line: number; column: number }; end: { line: number; column: number } } } & Record<string, unknown>;

/**
 * Finds where the function containing a source position begins. The interrupt sampler's frames come
 * from V8's `StackTrace` (a position only; V8 gives an addon no function start), so the agent reads
 * the file once with acorn and keeps, per file, the functions' ranges in a flat array; a lookup is a
 * binary search and a walk up the enclosing functions. Each file is parsed once and its answer kept
 * (least recently used first out, within `limits`); a file that is not plain JavaScript on disk, too big,
 * unreadable or that does not parse answers null every time after. Never throws.
 */
export class FunctionStarts {
  private readonly files = new Map<string, FileIndex | null>();
  private functions = 0;

  constructor(private readonly limits: FunctionStartLimits = DEFAULT_FUNCTION_START_LIMITS) {}

  /**
   * The start of the innermost function whose source contains `line:column` (1-based; column 0:
   * unknown, taken as the line's start) in `file`; null when none does (top-level code) or the file
   * cannot be read. A method's start is its name's line (`get() {`), as a `def` would be.
   */
  startOf(file: string, line: number, column: number): FunctionStart | null {
    if (line <= 0 || !isAbsolute(file) || !SCRIPT.test(file)) return null;
    const index = this.lookup(file);
    if (index === null) return null;
    const { fns, count } = index;
    const col = column > 0 ? column : 1;
    // The last function that starts at or before the position; the innermost one containing it is that
    // one or one of its ancestors (functions nest, so any function starting between the container and
    // the position lies inside the container).
    let lo = 0;
    let hi = count - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const o = mid * W;
      if (fns[o]! < line || (fns[o] === line && fns[o + 1]! <= col)) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    for (let f = at; f >= 0; f = fns[f * W + 4]!) {
      const o = f * W;
      if (fns[o + 2]! > line || (fns[o + 2] === line && fns[o + 3]! >= col)) return { line: fns[o + 5]!, column: fns[o + 1]! };
    }
    return null;
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
    let index: FileIndex | null;
    try {
      index = this.load(file);
    } catch {
      index = null;
    }
    if (index !== null && index.count > this.limits.maxFunctions) index = null;
    this.files.set(file, index);
    if (index !== null) this.functions += index.count;
    for (const [k, v] of this.files) {
      if (this.files.size <= this.limits.maxFiles && this.functions <= this.limits.maxFunctions) break;
      this.files.delete(k);
      if (v !== null) this.functions -= v.count;
    }
    return index;
  }

  private load(file: string): FileIndex | null {
    const bytes = readBounded(file, this.limits.maxFileBytes);
    if (bytes === null) return null;
    return indexFunctions(bytes.toString('utf8'));
  }
}

const PARSE = { ecmaVersion: 'latest', locations: true, allowHashBang: true, allowReturnOutsideFunction: true, allowAwaitOutsideFunction: true, allowImportExportEverywhere: true, allowReserved: true } as const;

/** The functions of one JavaScript source as a flat index; null when it parses neither as a module nor as a script. */
export function indexFunctions(code: string): FileIndex | null {
  let ast: unknown;
  try {
    ast = parse(code, { ...PARSE, sourceType: 'module' });
  } catch {
    try {
      // CommonJS code may use what a module may not (`with`, legacy octal, `delete x`).
      ast = parse(code, { ...PARSE, sourceType: 'script' });
    } catch {
      return null;
    }
  }
  let fns = new Int32Array(64 * W);
  let count = 0;
  const visit = (node: AstNode, parent: number, namedAt: number): void => {
    let inner = parent;
    if ((node.type === 'FunctionDeclaration' || node.type === 'FunctionExpression' || node.type === 'ArrowFunctionExpression') && node.loc) {
      if ((count + 1) * W > fns.length) {
        const grown = new Int32Array(fns.length * 2);
        grown.set(fns);
        fns = grown;
      }
      const o = count * W;
      fns[o] = node.loc.start.line;
      fns[o + 1] = node.loc.start.column + 1;
      fns[o + 2] = node.loc.end.line;
      fns[o + 3] = node.loc.end.column + 1;
      fns[o + 4] = parent;
      fns[o + 5] = namedAt > 0 ? namedAt : node.loc.start.line;
      inner = count++;
    }
    // A method's function node starts at its parameters; the method begins where its name is.
    const isMethod = node.type === 'MethodDefinition' || (node.type === 'Property' && (node.method === true || node.kind === 'get' || node.kind === 'set'));
    for (const key in node) {
      if (key === 'loc') continue;
      const v = node[key];
      if (Array.isArray(v)) {
        for (const c of v) if (c !== null && typeof c === 'object' && typeof (c as AstNode).type === 'string') visit(c as AstNode, inner, 0);
      } else if (v !== null && typeof v === 'object' && typeof (v as AstNode).type === 'string') {
        visit(v as AstNode, inner, isMethod && key === 'value' && node.loc ? node.loc.start.line : 0);
      }
    }
  };
  visit(ast as AstNode, -1, 0);
  return { fns: sortedByStart(fns.subarray(0, count * W), count), count };
}

/**
 * The index in order of start. A pre-order walk gives that order whenever the parser lists a node's
 * children in source order (acorn does); checked, and sorted if not, since the search depends on it.
 */
function sortedByStart(fns: Int32Array, count: number): Int32Array {
  const before = (a: number, b: number): number => fns[a * W]! - fns[b * W]! || fns[a * W + 1]! - fns[b * W + 1]!;
  let sorted = true;
  for (let i = 1; i < count && sorted; i++) sorted = before(i - 1, i) <= 0;
  if (sorted) return fns.slice();
  const order = Array.from({ length: count }, (_, i) => i).sort(before);
  const at = new Int32Array(count);
  order.forEach((old, i) => (at[old] = i));
  const out = new Int32Array(count * W);
  order.forEach((old, i) => {
    out.set(fns.subarray(old * W, old * W + W), i * W);
    const parent = fns[old * W + 4]!;
    out[i * W + 4] = parent < 0 ? -1 : at[parent]!;
  });
  return out;
}
