#!/usr/bin/env node
// What the `.cpuprofile` export costs since it writes one node per function where start lines are known
// (`npm run build && node test/bench/operator/cpuprofile-export.mjs`).
//
// Builds a random request-like tree of up to NODES nodes (NODES stacks) over FUNCTIONS functions, each sampled at a few lines,
// once with start lines (Frame.functionLine, Sonde 0.4 agents) and once without; then times the export
// now against the one before (BASE, compiled from git with esbuild beside the build), in interleaved
// rounds (the export only, not its JSON): median and spread (min–max) per variant, and the nodes and
// JSON size each writes.
//
// Env: NODES (default 100000), FUNCTIONS (3000), ROUNDS (11), BASE (9829fb6, main before the
// change).
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transformSync } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const { treeToCpuProfile } = await import(join(root, 'dist/src/export/cpuprofile.js'));
const { CallTreeBuilder } = await import(join(root, 'dist/src/model/call-tree-builder.js'));
const { makeFrame } = await import(join(root, 'dist/src/model/frame.js'));

const NODES = Number(process.env.NODES ?? 100_000);
const FUNCTIONS = Number(process.env.FUNCTIONS ?? 3000);
const ROUNDS = Number(process.env.ROUNDS ?? 11);
const BASE = process.env.BASE ?? '9829fb6';

const before = join(root, 'dist/src/export/cpuprofile-bench-base.js');
const source = execFileSync('git', ['-C', root, 'show', `${BASE}:src/export/cpuprofile.ts`], { encoding: 'utf8' });
writeFileSync(before, transformSync(source, { loader: 'ts', format: 'esm' }).code);
const { treeToCpuProfile: exportBefore } = await import(pathToFileURL(before).href);

function tree(withStarts) {
  let seed = 7;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const b = new CallTreeBuilder();
  const stack = [];
  for (let i = 0; i < NODES; i++) {
    if (stack.length > 1 && rand() < 0.35) stack.length = 1 + Math.floor(rand() * (stack.length - 1));
    const f = Math.floor(rand() * FUNCTIONS);
    const start = 1 + 20 * (f % 500);
    stack.push(makeFrame(`fn${f}`, `/app/src/m${f % 200}.js`, start + Math.floor(rand() * 6), 3, 'code', undefined, withStarts ? start : undefined));
    b.addStack(stack, { samples: 1 + Math.floor(rand() * 3), wallUs: 1000, cpuUs: 900 });
  }
  return b.build();
}

try {
  const trees = { 'with starts': tree(true), 'without starts': tree(false) };
  const times = {};
  const nodes = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, t] of Object.entries(trees)) {
      const order = r % 2 ? ['after', 'before'] : ['before', 'after'];
      for (const v of order) {
        const fn = v === 'after' ? treeToCpuProfile : exportBefore;
        const t0 = performance.now();
        const out = fn(t);
        const ms = performance.now() - t0;
        (times[`${name}, ${v}`] ??= []).push(ms);
        if (r === 0) nodes[`${name}, ${v}`] = [out.nodes.length, JSON.stringify(out).length];
      }
    }
  }
  console.log(`trees of ${trees['with starts'].size} / ${trees['without starts'].size} nodes over ${FUNCTIONS} functions; ${ROUNDS} interleaved rounds`);
  const out = {};
  for (const [name, xs] of Object.entries(times)) {
    const s = [...xs].sort((a, b) => a - b);
    const med = s[Math.floor(s.length / 2)];
    const [count, bytes] = nodes[name];
    out[name] = { medianMs: +med.toFixed(1), minMs: +s[0].toFixed(1), maxMs: +s[s.length - 1].toFixed(1), nodes: count, jsonMB: +(bytes / 1e6).toFixed(2) };
    console.log(`  ${name.padEnd(24)} median ${med.toFixed(1).padStart(7)} ms  (min ${s[0].toFixed(1)}, max ${s[s.length - 1].toFixed(1)})  ${count} nodes, ${(bytes / 1e6).toFixed(2)} MB of JSON`);
  }
  console.log(JSON.stringify({ bench: 'cpuprofile-export', ...out }));
} finally {
  rmSync(before, { force: true });
}
