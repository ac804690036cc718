// Parsing a file into its function index, with acorn: about 1.8k instructions per byte, so it runs in
// the agent's worker (function-starts-worker.ts), never on the app's thread.
import { type Options, Parser } from 'acorn';
import { type FileIndex, W } from './function-index.js';

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
