import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../agent/clock.js';
import { createRootLogger } from '../../agent/log.js';
import { FunctionStarts, functionStartWorkersStarted, PENDING } from '../../agent/sampler/function-starts.js';
import { InterruptSampler } from '../../agent/sampler/interrupt-sampler.js';
import { Profiler } from '../../agent/profiling/profiler.js';
import { deserializeTree } from '../../src/model/serialized.js';
import { ensureAgentBuilt } from './helpers/build.js';

// The parse behind function starts runs in a worker thread (agent/sampler/function-starts.ts): real
// worker, real files, real timers on this (the "app's") thread.
let dir: string;
beforeAll(() => {
  ensureAgentBuilt(); // the worker runs from dist/ (Node 20 cannot run its TypeScript)
  dir = mkdtempSync(join(tmpdir(), 'sonde-fnstart-worker-'));
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, text: string): string => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};
/** A bundle-sized file: ~`kib` KiB of nested functions and methods, as a bundler writes them. */
function bigFile(name: string, kib: number): string {
  const parts: string[] = [];
  for (let k = 0, size = 0; size < kib * 1024; k++) {
    const part = `function mod${k}(exports, require) {\n  class C${k} { get v() { return ${k}; } run(a) { return [a, ${k}].map((x) => x * 2).filter(function (y) { return y > ${k % 7}; }); } }\n  exports.f${k} = (o) => new C${k}().run(o.n + ${k});\n}\n`;
    parts.push(part);
    size += part.length;
  }
  return write(name, parts.join(''));
}
/** Log lines the locator writes, for "logged once". */
function capturingLog(): { log: pino.Logger; lines: { msg: string; file?: string }[] } {
  const lines: { msg: string; file?: string }[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  return { log: pino({ level: 'warn' }, stream), lines };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('function starts off the app thread', () => {
  it("keeps the app's event loop turning while a 600 KiB file is parsed, and answers after", async () => {
    const file = bigFile('bundle.js', 600);
    const starts = new FunctionStarts();
    // A timer in the "app" firing every 2 ms: the largest gap between its turns is the longest stall.
    let last = performance.now();
    let maxGap = 0;
    let turns = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      turns++;
    }, 2);
    const t0 = performance.now();
    const askUs = performance.now();
    expect(starts.startOf(file, 3, 5)).toBe(PENDING);
    const askMs = performance.now() - askUs;
    last = performance.now();
    maxGap = 0;
    await starts.settled();
    const parseMs = performance.now() - t0;
    clearInterval(timer);
    // The parse takes hundreds of ms of the worker's thread; parsed here it would be one gap that long.
    expect(parseMs).toBeGreaterThan(100);
    expect(maxGap, `longest gap ${maxGap.toFixed(1)} ms during a ${parseMs.toFixed(0)} ms parse`).toBeLessThan(parseMs / 3);
    expect(turns).toBeGreaterThan(10);
    expect(askMs).toBeLessThan(parseMs / 3);
    // The index arrived: line 3 is in mod0's class's `run`, a method starting on line 2.
    expect(starts.startOf(file, 3, 5)).toEqual({ line: 1, column: 1 });
    expect(starts.startOf(file, 2, 60)).toMatchObject({ line: 2 });
    starts.close();
  }, 60_000);

  it('a file acorn cannot parse (it overflows its stack) costs that file its starts; the worker goes on', async () => {
    const before = functionStartWorkersStarted();
    const starts = new FunctionStarts({ resourceLimits: { stackSizeMb: 1 } });
    const deep = write('deep.js', `const x = ${'['.repeat(200_000)}${']'.repeat(200_000)};\nfunction after() {}\n`);
    const fine = write('fine.js', 'function a() {\n  return 1;\n}\n');
    expect(starts.startOf(deep, 2, 1)).toBe(PENDING);
    expect(starts.startOf(fine, 2, 3)).toBe(PENDING);
    await starts.settled();
    expect(starts.startOf(deep, 2, 1)).toBeNull();
    expect(starts.startOf(fine, 2, 3)).toEqual({ line: 1, column: 1 });
    expect(starts.workerRunning).toBe(true);
    expect(functionStartWorkersStarted() - before).toBe(1);
    starts.close();
  }, 60_000);

  it('a worker that dies (out of its heap) costs only the starts of what it was parsing, logged once; after three deaths it stops', async () => {
    const { log, lines } = capturingLog();
    const big = bigFile('heavy.js', 900);
    const small = write('small.js', 'function s() {\n  return 2;\n}\n');
    const before = functionStartWorkersStarted();
    const starts = new FunctionStarts({ log, resourceLimits: { maxOldGenerationSizeMb: 6, maxYoungGenerationSizeMb: 2 }, limits: { maxFileBytes: 4 << 20, maxFiles: 100, maxIndexBytes: 32 << 20, maxParseBytes: 64 << 20 } });
    expect(starts.startOf(big, 2, 3)).toBe(PENDING);
    await starts.settled();
    expect(starts.startOf(big, 2, 3)).toBeNull();
    expect(starts.workerRunning).toBe(false);
    // A new worker for the next file: the death cost one file, not the feature.
    expect(starts.startOf(small, 2, 3)).toBe(PENDING);
    await starts.settled();
    expect(starts.startOf(small, 2, 3)).toEqual({ line: 1, column: 1 });
    for (let i = 0; i < 2; i++) {
      const again = bigFile(`heavy${i}.js`, 900);
      expect(starts.startOf(again, 2, 3)).toBe(PENDING);
      await starts.settled();
      expect(starts.startOf(again, 2, 3)).toBeNull();
    }
    // The first heavy file after `small` reused its worker: three workers, three deaths.
    expect(functionStartWorkersStarted() - before).toBe(3);
    // Three deaths: no more workers, new files answer null at once.
    expect(starts.startOf(write('later.js', 'function l() {}\n'), 1, 1)).toBeNull();
    expect(functionStartWorkersStarted() - before).toBe(3);
    expect(lines.map((l) => l.msg)).toEqual(['the function-start worker died: the files it was parsing go without starts']);
  }, 120_000);

  it('a parse that overruns its deadline ends the worker like a death', async () => {
    const big = bigFile('slow.js', 600);
    const starts = new FunctionStarts({ parseTimeoutMs: 30 });
    expect(starts.startOf(big, 2, 3)).toBe(PENDING);
    await starts.settled();
    expect(starts.startOf(big, 2, 3)).toBeNull();
    expect(starts.workerRunning).toBe(false);
    starts.close();
  }, 60_000);

  it('ends the worker when idle and starts one again for the next file', async () => {
    const before = functionStartWorkersStarted();
    const starts = new FunctionStarts({ idleMs: 50 });
    const a = write('idle-a.js', 'function a() {\n}\n');
    const b = write('idle-b.js', 'function b() {\n}\n');
    starts.startOf(a, 1, 1);
    await starts.settled();
    expect(starts.workerRunning).toBe(true);
    await sleep(300);
    expect(starts.workerRunning).toBe(false);
    expect(starts.startOf(a, 1, 1)).toEqual({ line: 1, column: 1 }); // answers are kept
    expect(starts.startOf(b, 1, 1)).toBe(PENDING);
    await starts.settled();
    expect(starts.startOf(b, 1, 1)).toEqual({ line: 1, column: 1 });
    expect(functionStartWorkersStarted() - before).toBe(2);
    starts.close();
  }, 30_000);

  it('starts no worker while the sampler is not sampling; sampled frames get their start once the worker answers', async () => {
    const before = functionStartWorkersStarted();
    const sampler = new InterruptSampler(systemClock, createRootLogger('silent'));
    const src = write('spin.cjs', 'exports.spin = function spin(ms) {\n  const end = performance.now() + ms;\n  let x = 0;\n  while (performance.now() < end) x += Math.sqrt(x + 1);\n  return x;\n};\n');
    // Node's own require: vitest's import would transform the file and shift its positions off the disk's.
    const { spin } = createRequire(import.meta.url)(src) as { spin: (ms: number) => number };
    spin(50);
    await sleep(100);
    expect(functionStartWorkersStarted()).toBe(before);
    expect(sampler.functionStarts.workerRunning).toBe(false);
    sampler.start(1000);
    try {
      sampler.trackContexts(true);
      const request = {};
      sampler.run(request, () => spin(100));
      const first = sampler.collect().samples.filter((s) => s.context === request);
      const spinFrame = first.flatMap((s) => s.stack).find((f) => f.name === 'spin')!;
      expect(spinFrame.functionLine).toBeUndefined(); // its file's index was not there yet
      expect(functionStartWorkersStarted()).toBe(before + 1);
      await sampler.functionStarts.settled();
      expect(sampler.settle(spinFrame).functionLine).toBe(1);
      sampler.run(request, () => spin(100));
      const later = sampler.collect().samples.filter((s) => s.context === request);
      expect(later.flatMap((s) => s.stack).filter((f) => f.name === 'spin').map((f) => f.functionLine)).toEqual(expect.arrayContaining([1]));
      expect(later.flatMap((s) => s.stack).filter((f) => f.name === 'spin' && f.functionLine !== 1)).toEqual([]);
    } finally {
      sampler.stop();
      sampler.functionStarts.close();
    }
  }, 60_000);

  it("holds a finished request's record until its frames' starts are known, so every record carries them", async () => {
    // The hot function sits in a 600 KiB bundle: its index takes the worker hundreds of ms, longer than
    // the first collects (every 100 ms) that complete requests.
    const parts = [`exports.spin = function spin(ms) {\n  const end = performance.now() + ms;\n  let x = 0;\n  while (performance.now() < end) x += Math.sqrt(x + 1);\n  return x;\n};\n`];
    for (let k = 0, size = 0; size < 600 * 1024; k++) {
      const part = `function mod${k}(exports) {\n  class C${k} { get v() { return ${k}; } run(a) { return [a, ${k}].map((x) => x * 2); } }\n  exports.f${k} = (o) => new C${k}().run(o.n + ${k});\n}\n`;
      parts.push(part);
      size += part.length;
    }
    const src = write('held-bundle.cjs', parts.join(''));
    const { spin } = createRequire(import.meta.url)(src) as { spin: (ms: number) => number };
    const log = createRootLogger('silent');
    const sampler = new InterruptSampler(systemClock, log);
    const profiler = new Profiler(sampler, systemClock, log, { warmupMs: 0 });
    const session = profiler.start({ id: 'held', request: 'GET /spin', limit: 12, deadline: Date.now() + 30_000, sampleIntervalMs: 1 });
    const t0 = performance.now();
    let indexedAt = 0;
    void sampler.functionStarts.settled().then(() => (indexedAt = performance.now() - t0));
    for (let i = 0; i < 12; i++) {
      const r = profiler.begin({ method: 'GET', url: '/spin' })!;
      profiler.run(r, () => spin(15));
      profiler.end(r, 'GET /spin', 'ok', 200);
      await sleep(20);
    }
    const result = await session.done;
    try {
      expect(result.reason).toBe('requests');
      expect(session.records).toHaveLength(12);
      const spinStarts = session.records.map((rec) => {
        const t = deserializeTree(rec.tree);
        return [...new Set(t.frames.filter((f) => f.name === 'spin').map((f) => f.functionLine))];
      });
      // Requests finished while the index was being built (the first ~100–500 ms) all waited for it.
      expect(spinStarts.filter((x) => x.length > 0).length).toBeGreaterThan(8);
      expect(spinStarts.filter((x) => x.length > 0 && !(x.length === 1 && x[0] === 1))).toEqual([]);
      expect(indexedAt).toBeGreaterThan(0);
    } finally {
      profiler.close();
      sampler.functionStarts.close();
    }
  }, 60_000);

  it("never holds the app's process open: a process whose worker is still parsing exits when its own work is done", async () => {
    const big = bigFile('exit.js', 600);
    const small = write('exit-small.js', 'function e() {\n  return 1;\n}\n');
    // One file answered (the worker then idles, its end 30 s away), one still being parsed at the end.
    const script = `const { FunctionStarts } = await import(${JSON.stringify(join(import.meta.dirname, '../../dist/agent/sampler/function-starts.js'))});\nconst s = new FunctionStarts();\ns.startOf(${JSON.stringify(small)}, 2, 3);\nconst keep = setInterval(() => {}, 1000);\nawait s.settled();\nclearInterval(keep);\nconsole.log(JSON.stringify(s.startOf(${JSON.stringify(small)}, 2, 3)));\nconsole.log(s.startOf(${JSON.stringify(big)}, 2, 3));\n`;
    const t0 = performance.now();
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    const ms = performance.now() - t0;
    expect(r.stdout.trim().split('\n')).toEqual(['{"line":1,"column":1}', 'pending']);
    expect(r.status).toBe(0);
    // The worker's idle end is 30 s away and its parse hundreds of ms: the process does not wait for either.
    expect(ms).toBeLessThan(5_000);
  }, 30_000);
});
