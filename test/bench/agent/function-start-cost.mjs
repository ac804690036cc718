// What finding a frame's function start costs the agent (interrupt sampler, agent/sampler/function-starts.ts):
// the first lookup in a file sends it to the worker, which reads and parses it with acorn (once): measured
// are that first call on the app's thread, the time until the index is there, and every later lookup (a
// binary search).
// Interleaved rounds, fresh locator each round; medians and spreads.
// Run: npm run build && node test/bench/agent/function-start-cost.mjs [rounds]
import { fileURLToPath } from 'node:url';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { FunctionStarts } from '../../../dist/agent/sampler/function-starts.js';

const rounds = Number(process.argv[2] ?? 7);
const d = mkdtempSync(join(tmpdir(), 'fs-bench-'));
// A big bundle (the operator's CLI with its dependencies, as in source-map-cost.mjs), a mid-size app file, a small one.
const big = join(d, 'big.js');
buildSync({ entryPoints: [fileURLToPath(new URL('../../../operator/cli.ts', import.meta.url))], bundle: true, platform: 'node', format: 'esm', outfile: big, logLevel: 'silent', packages: 'bundle', external: ['better-sqlite3', '*.node'] });
const agent = fileURLToPath(new URL('../../../dist/agent-bundle/node/agent.cjs', import.meta.url));
const small = fileURLToPath(new URL('../../e2e/fixtures/app.mjs', import.meta.url));
const files = { 'operator bundle': big, 'agent.cjs': agent, 'app.mjs': small };
const lineCount = Object.fromEntries(Object.entries(files).map(([k, f]) => [k, readFileSync(f, 'utf8').split('\n').length]));
const ms = (t) => Number(process.hrtime.bigint() - t) / 1e6;
const first = Object.fromEntries(Object.keys(files).map((k) => [k, []]));
const heap = Object.fromEntries(Object.keys(files).map((k) => [k, []]));
const after = [];
const ask = Object.fromEntries(Object.keys(files).map((k) => [k, []]));
const cold = [];
for (let r = 0; r < rounds; r++) {
  for (const [k, f] of Object.entries(files)) {
    globalThis.gc?.();
    // The default limit (1 MiB) would refuse the 8.7 MiB bundle: measured with room for it.
    const fs = new FunctionStarts({ limits: { maxFileBytes: 64 << 20, maxFiles: 10, maxIndexBytes: 64 << 20, maxParseBytes: 64 << 20 }, resourceLimits: { maxOldGenerationSizeMb: 1024 }, idleMs: 60_000 });
    // A warm worker (a session's first file pays its start too: `cold` below).
    if (r === 0 && k === 'operator bundle') {
      const t0 = process.hrtime.bigint();
      fs.startOf(small, 1, 1);
      await fs.settled();
      cold.push(ms(t0));
    }
    const h0 = process.memoryUsage().heapUsed;
    const t = process.hrtime.bigint();
    fs.startOf(f, Math.max(1, lineCount[k] >> 1), 1);
    ask[k].push(ms(t));
    await fs.settled();
    first[k].push(ms(t));
    heap[k].push((process.memoryUsage().heapUsed - h0) / 1048576);
    if (k === 'operator bundle') {
      const t2 = process.hrtime.bigint();
      for (let i = 0; i < 100_000; i++) fs.startOf(f, 1 + ((i * 7919) % lineCount[k]), 5);
      after.push((ms(t2) * 1000) / 100_000);
    }
    fs.close();
  }
}
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const span = (xs) => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;
for (const [k, f] of Object.entries(files)) {
  console.log(`${k}: ${(statSync(f).size / 1024).toFixed(0)} KiB, ${lineCount[k]} lines — first lookup on the app's thread median ${med(ask[k]).toFixed(3)} ms (${span(ask[k])}); index there (worker read + parse + index) after median ${med(first[k]).toFixed(1)} ms (${span(first[k])}); app heap after +${med(heap[k]).toFixed(1)} MiB`);
}
console.log(`worker start + a 2 KiB file, first round: ${cold.map((x) => x.toFixed(1)).join(', ')} ms`);
console.log(`later lookups in the operator bundle: median ${med(after).toFixed(2)} µs each (${span(after)})`);
rmSync(d, { recursive: true, force: true });
