import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indexFunctions } from '../../agent/sampler/function-parse.js';
import { type FunctionStart, FunctionStarts, PENDING } from '../../agent/sampler/function-starts.js';
import { FrameCache, timeProfileToSamples, type TimeProfile } from '../../agent/sampler/profile-samples.js';
import { SourceMapResolver } from '../../agent/sampler/source-maps.js';
import { buildWithEsbuild, buildWithTsc, markerPosition, TS_SERVICE } from '../harness/ts-service-build.js';

// The interrupt sampler's frames are positions only; FunctionStarts finds where the function around a
// position begins, from the file itself. Real files on disk, real builds.
let dir: string;
const APP = join(import.meta.dirname, '../e2e/fixtures/same-names-app.mjs');
const appLines = readFileSync(APP, 'utf8').split('\n');
/** 1-based line of the first line containing `text` at or after line `from`. */
const lineOf = (text: string, from = 1): number => appLines.findIndex((l, i) => i + 1 >= from && l.includes(text)) + 1;
const startOf = (marker: string): number => lineOf(`// start: ${marker}`) + 1;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sonde-fnstart-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The locator's answer once the worker has indexed the file: the first ask of a file is PENDING. */
async function ask(fs: FunctionStarts, file: string, line: number, column: number): Promise<FunctionStart | null> {
  const first = fs.startOf(file, line, column);
  if (first !== PENDING) return first;
  await fs.settled();
  const answer = fs.startOf(file, line, column);
  if (answer === PENDING) throw new Error('still pending after settled()');
  return answer;
}

const write = (name: string, text: string): string => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

describe('FunctionStarts', () => {
  it('finds the innermost function around a position: same-named functions and methods of one file apart', async () => {
    const fs = new FunctionStarts();
    const inA = lineOf('Math.imul(i, 2654435761)');
    const inB = lineOf('(s ^ (s << 3) ^ i)');
    const inOrders = lineOf('Math.imul(h, 0x01000193)');
    const inUsers = lineOf('(h * 31 + i) % 1000003');
    expect((await ask(fs, APP, inA, 7))?.line).toBe(startOf('handler-a'));
    expect((await ask(fs, APP, inB, 7))?.line).toBe(startOf('handler-b'));
    // A method begins at its name's line (its function node starts at the parameters).
    expect((await ask(fs, APP, inOrders, 7))?.line).toBe(startOf('get-orders'));
    expect((await ask(fs, APP, inUsers, 7))?.line).toBe(startOf('get-users'));
    // The factory around handler-a, at a line of its own after the inner function ended.
    expect((await ask(fs, APP, lineOf('return handler;'), 3))?.line).toBe(lineOf('function makeCounter'));
    // Top-level code is in no function.
    expect((await ask(fs, APP, lineOf('const counter = makeCounter'), 1))).toBeNull();
    // The arrow passed to createServer, at a line inside it.
    expect((await ask(fs, APP, lineOf("res.writeHead(404)"), 3))?.line).toBe(lineOf('const server = createServer'));
    expect(fs.size).toBe(1);
  });

  it('tells functions on one line apart by column, and reads scripts a module parse refuses', async () => {
    const f = write('one-line.js', 'const a = () => 1, b = function named() { return (() => 2)(); };\n');
    const fs = new FunctionStarts();
    expect((await ask(fs, f, 1, 17))).toEqual({ line: 1, column: 11 });
    expect((await ask(fs, f, 1, 55))).toEqual({ line: 1, column: 51 });
    expect((await ask(fs, f, 1, 45))).toEqual({ line: 1, column: 24 });
    // `with` and legacy octal are script-only (sloppy CommonJS).
    const sloppy = write('sloppy.cjs', '#!/usr/bin/env node\nfunction f(o) {\n  with (o) { return x + 010; }\n}\nmodule.exports = f;\n');
    expect((await ask(fs, sloppy, 3, 14))?.line).toBe(2);
    expect(indexFunctions('class A { static #p = 1; async *gen() { yield* [await 1]; } get x() { return 1; } }')?.count).toBe(2);
  });

  it('answers null, without throwing, for what it cannot or must not read', async () => {
    const fs = new FunctionStarts({ limits: { maxFileBytes: 1024, maxFiles: 10, maxIndexBytes: 1 << 20, maxParseBytes: 1 << 20 } });
    expect((await ask(fs, write('broken.js', 'function f( {\n'), 1, 1))).toBeNull();
    expect((await ask(fs, write('big.js', `function f() {\n${'//'.padEnd(2000, 'x')}\n}\n`), 1, 1))).toBeNull();
    expect((await ask(fs, 'relative/path.js', 1, 1))).toBeNull();
    expect((await ask(fs, 'node:internal/timers', 1, 1))).toBeNull();
    expect((await ask(fs, join(dir, 'missing.js'), 1, 1))).toBeNull();
    mkdirSync(join(dir, 'dir.js'));
    expect((await ask(fs, join(dir, 'dir.js'), 1, 1))).toBeNull();
    // A FIFO no one writes to: opening it blocking would hang the app's thread for good.
    execFileSync('mkfifo', [join(dir, 'fifo.js')]);
    expect((await ask(fs, join(dir, 'fifo.js'), 1, 1))).toBeNull();
    expect((await ask(fs, '/dev/zero.js', 1, 1))).toBeNull();
  });

  it('keeps within its limits: files and functions, oldest out first', async () => {
    const fs = new FunctionStarts({ limits: { maxFileBytes: 1 << 20, maxFiles: 3, maxIndexBytes: 500, maxParseBytes: 1 << 20 } });
    const files = Array.from({ length: 5 }, (_, i) => write(`f${i}.js`, Array.from({ length: 10 }, (_, k) => `function f${k}() { return ${k}; }`).join('\n')));
    for (const f of files) expect((await ask(fs, f, 4, 20))?.line).toBe(4);
    // 10 functions per file, at most 25 kept: two files' answers at most.
    expect(fs.size).toBeLessThanOrEqual(2);
    // A file with more functions than the whole budget is not kept as an index.
    const huge = write('huge.js', Array.from({ length: 30 }, (_, k) => `function g${k}() {}`).join('\n'));
    expect((await ask(fs, huge, 2, 5))).toBeNull();
    // A life-long parse budget: once spent, files not indexed yet are not read (evicted ones neither).
    const budget = new FunctionStarts({ limits: { maxFileBytes: 1 << 20, maxFiles: 1, maxIndexBytes: 1 << 20, maxParseBytes: 2 * readFileSync(files[0]!).length } });
    expect((await ask(budget, files[0]!, 4, 20))?.line).toBe(4);
    expect((await ask(budget, files[1]!, 4, 20))?.line).toBe(4);
    expect((await ask(budget, files[2]!, 4, 20))).toBeNull();
    expect((await ask(budget, files[0]!, 4, 20))).toBeNull();
  });

  it('a file with 30,000 functions indexes and answers (the search is logarithmic)', async () => {
    const src = Array.from({ length: 30_000 }, (_, k) => `function f${k}(a) { return a + ${k}; }`).join('\n');
    const f = write('many.js', src);
    const fs = new FunctionStarts({ limits: { maxFileBytes: 4 << 20, maxFiles: 1, maxIndexBytes: 4 << 20, maxParseBytes: 4 << 20 } });
    expect((await ask(fs, f, 29_999, 25))).toEqual({ line: 29_999, column: 1 });
    expect((await ask(fs, f, 1, 25))).toEqual({ line: 1, column: 1 });
  });
});

describe('FrameCache with function starts', () => {
  it('gives interrupt-sampler frames their function start; V8 nodes their own; mapped frames the original start', async () => {
    const starts = new FunctionStarts();
    const cache = new FrameCache(() => false, 50_000, new SourceMapResolver(), starts);
    const line = lineOf('Math.imul(i, 2654435761)');
    // Until the worker has indexed the file the frame goes without its start; settle() gives it after.
    const early = cache.get('handler', APP, line, 7)!;
    expect([early.line, early.functionLine, cache.pendingCount]).toEqual([line, undefined, 1]);
    await starts.settled();
    const f = cache.settle(early);
    expect([f.line, f.functionLine, cache.pendingCount]).toEqual([line, startOf('handler-a'), 0]);
    // The same place asked again is the settled frame (one Frame per place, for identity matching).
    expect(cache.get('handler', APP, line, 7)).toBe(f);
    // V8's sampler names the start itself (a node's line is its function's start with line numbers off).
    const v8 = new FrameCache(() => false, 50_000, new SourceMapResolver());
    const profile: TimeProfile = {
      startTime: 0,
      endTime: 1000,
      topDownRoot: {
        name: '(root)', scriptName: '', lineNumber: 0, hitCount: 0,
        children: [{ name: 'get', scriptName: `file://${APP}`, lineNumber: 47, columnNumber: 6, hitCount: 1, children: [], contexts: [{ context: {}, timestamp: 10n }] }],
      },
    };
    const batch = timeProfileToSamples(profile, 0, 1000, 1000, v8);
    expect(batch.samples[0]!.stack.map((x) => [x.name, x.line, x.functionLine])).toEqual([['get', 47, 47]]);
    // A frame the file cannot place keeps no start.
    const missing = cache.get('f', '/nonexistent/x.js', 3, 1)!;
    await starts.settled();
    expect(cache.settle(missing).functionLine).toBeUndefined();
    expect(cache.pendingCount).toBe(0);
  });

  it('maps a compiled frame to the original function start (tsc and esbuild builds)', async () => {
    const tsLines = readFileSync(TS_SERVICE, 'utf8').split('\n');
    const tsStart = tsLines.findIndex((l) => l.startsWith('function priceOrders')) + 1;
    for (const [name, entry] of [
      ['tsc', buildWithTsc(join(dir, 'tsc'))],
      ['esbuild', buildWithEsbuild(join(dir, 'esbuild'))],
    ] as const) {
      const at = markerPosition(entry);
      const jsStart = readFileSync(entry, 'utf8').split('\n').findIndex((l) => /function priceOrders/.test(l)) + 1;
      expect(jsStart, name).not.toBe(tsStart); // a mapper that did nothing would fail
      const starts = new FunctionStarts();
      const cache = new FrameCache(() => false, 50_000, new SourceMapResolver(), starts);
      const early = cache.get('priceOrders', entry, at.line, at.column)!;
      // Pending, it is already mapped to the original place; settled, it gets the original start too.
      expect({ name, file: early.file, functionLine: early.functionLine }).toEqual({ name, file: TS_SERVICE, functionLine: undefined });
      await starts.settled();
      const f = cache.settle(early);
      expect({ name, file: f.file, functionLine: f.functionLine }).toEqual({ name, file: TS_SERVICE, functionLine: tsStart });
    }
  }, 60_000);
});
