// What V8's CPU profiler being on costs plain JavaScript: `node test/bench/agent/profiler-tax.mjs`
// (run it with each Node binary, e.g. node_modules/node24/bin/node).
//
// Two workloads in one process, the wall profiler (the agent's sampler, at 10 ms, no contexts) off and
// on in interleaved rounds; CPU time per iteration and the on/off ratio of the medians. "alloc" makes
// short-lived objects with a few survivors and serialises them (a request handler's shape); "compute"
// is arithmetic with no allocation. A diagnostic for docs/BENCHMARKS.md, not a target.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { TimeProfiler } = require('@datadog/pprof/out/src/time-profiler-bindings.js');

const WORKLOADS = {
  alloc() {
    const keep = [];
    for (let i = 0; i < 2000; i++) {
      const o = { sku: 'SKU-' + (i % 200), qty: i % 5, unit: 1.5 + (i % 7) };
      if (i % 50 === 0) keep.push(o);
    }
    return JSON.stringify(keep).length;
  },
  compute() {
    let x = 0;
    for (let i = 0; i < 20000; i++) x = (x * 31 + i) | 0;
    return x;
  },
};
const survivors = [];

/** CPU µs per iteration of `name` over `n` iterations. */
function measure(name, n) {
  const c0 = process.cpuUsage();
  let sink = 0;
  for (let i = 0; i < n; i++) {
    sink += WORKLOADS[name]();
    if (i % 100 === 0) survivors.push({ sink, i });
    if (survivors.length > 5000) survivors.length = 0;
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const names = Object.keys(WORKLOADS);
for (const name of names) measure(name, 3000); // warm the JIT
const results = { off: Object.fromEntries(names.map((n) => [n, []])), on: Object.fromEntries(names.map((n) => [n, []])) };
for (let round = 0; round < 8; round++) {
  for (const state of round % 2 ? ['on', 'off'] : ['off', 'on']) {
    let profiler;
    if (state === 'on') {
      profiler = new TimeProfiler({ intervalMicros: 10_000, durationMillis: 60_000, lineNumbers: false, withContexts: false, workaroundV8Bug: true, collectCpuTime: false, collectAsyncId: false, useCPED: false, isMainThread: true });
      profiler.start();
      measure('alloc', 500); // past the profiler's start-up
    }
    for (const name of names) results[state][name].push(measure(name, 3000));
    if (profiler) {
      profiler.stop(false);
      profiler.dispose();
    }
  }
}
for (const name of names) {
  const off = median(results.off[name]);
  const on = median(results.on[name]);
  console.log(`${process.version} ${name}: profiler off ${off.toFixed(2)} µs/iteration, on ${on.toFixed(2)}, ratio ${(on / off).toFixed(3)}`);
}
