// What the interrupt sampler sees of a loaded server, tick by tick:
// `npm run bench:agent:ticks [-- --node 24 --interval-us 1000 --lines 40 --rounds 3]`.
//
// The CPU-time benchmark (run.mjs) says what sampling costs; this says what the cost buys. An HTTP
// server (each request awaits a 1 ms timer, then builds and round-trips an order of `--lines` lines)
// runs the interrupt sampler with every request under a context, at 2,000 requests/s from a load
// generator on CPU 0, for 8 s after a 4,000-request warm-up. Per second of load it counts ticks with a
// stack (weight included: busy ticks owed to a stack count there), busy ticks of no one (Node's own
// HTTP and timer code runs outside any request's context), idle ticks, the sampler thread's own CPU and
// how often the kernel took the CPU from the JavaScript thread, and, per request, the process's CPU.
// The truth to hold the stacks against: the request's code after its await is timed with
// performance.now(), and its total over the interval is the number of ticks it spans; a sampler that
// sees what it should records about that many stacks (a few more: the handler's code before its await
// is in the context too, untimed). Two placements, alternated over rounds: the server on CPU 1 with its
// ticker (as run.mjs places it, and as a pod with one exclusive core runs), and the server free to use
// both CPUs.
// SONDE_AGENT_DIST=/path/to/dist measures another build (the directory holding agent/sampler/).
import http from 'node:http';
import { fork } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { silentSamplerFactory } from '../../agent/fixtures/silent-sampler.mjs';
import { hasTaskset, nodeBinary } from './runtime.mjs';
import { quantile } from './stats.mjs';

const RATE = 2000;
const REQUESTS = 20_000; // in all, warm-up included; test/agent/interrupt-sampler.test.ts runs the server with fewer
const WARM_REQUESTS = 4000;
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SELF = fileURLToPath(import.meta.url);

// Roles: `load <port> <requests>`; `server <dist> <intervalUs> <lines> [requests]` (prints one JSON line).
if (process.argv[2] === 'load') await load(Number(process.argv[3]), Number(process.argv[4]));
else if (process.argv[2] === 'server') await server(process.argv[3], Number(process.argv[4]), Number(process.argv[5]), Number(process.argv[6] ?? REQUESTS));
else await main();

/** Open-loop load: RATE requests a second, `requests` in all, then exits. */
async function load(port, requests) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const t0 = performance.now();
  let sent = 0;
  const send = () => {
    while (performance.now() >= t0 + (sent * 1000) / RATE && sent < requests) {
      sent++;
      http.get({ port, path: `/orders/${sent}`, agent }, (res) => res.resume()).on('error', (error) => {
        console.error('load error:', error.message);
        process.exit(1);
      });
    }
    if (sent < requests) setTimeout(send, 0.3);
    else setTimeout(() => process.exit(0), 500);
  };
  send();
}

/** The CPU time (ms) of this process's thread named `sonde:sampler`, or 0 before it exists. */
function samplerThreadCpuMs() {
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      if (!readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').startsWith('sonde:sampler')) continue;
      // schedstat: time on the CPU (ns), time waiting for one (ns), slices
      return Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return 0;
}

/** How often the kernel has taken the CPU from this process's JavaScript thread (involuntary switches). */
function preemptions() {
  return Number(/nonvoluntary_ctxt_switches:\s*(\d+)/.exec(readFileSync(`/proc/self/task/${process.pid}/status`, 'utf8'))[1]);
}

/** The server: samples every request under a context, counts what the sampler reports, prints one JSON line. */
async function server(dist, intervalUs, lines, requests) {
  const sampler = (await silentSamplerFactory(dist))();
  const order = (id) => {
    const items = Array.from({ length: lines }, (_, k) => ({ sku: `sku-${k}`, quantity: (k * id) % 7, price: k * 1.5 }));
    items.sort((a, b) => a.quantity - b.quantity);
    return JSON.parse(JSON.stringify({ id, items }));
  };
  let served = 0;
  let inContextMs = 0; // wall time of the request's code after its await, timed around it: what the stacks should cover
  const app = http.createServer((req, res) => {
    served++;
    sampler.run({ request: served }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      const began = performance.now();
      res.end(JSON.stringify(order(req.url.length)));
      inContextMs += performance.now() - began;
    });
  });
  await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve));
  sampler.start(intervalUs);
  sampler.trackContexts(true);
  const generator = fork(SELF, ['load', String(app.address().port), String(requests)], { execPath: 'taskset', execArgv: ['-c', '0', process.execPath] });
  const seen = { stacks: 0, busyOfNoOne: 0, idle: 0 };
  const count = (batch) => {
    seen.stacks += batch.samples.reduce((n, sample) => n + sample.weight, 0);
    seen.busyOfNoOne += batch.busy.length;
    seen.idle += batch.idle.length;
  };
  let start = null;
  const collector = setInterval(() => {
    const batch = sampler.collect();
    if (start !== null) return count(batch);
    // Until the warm-up is over, batches are dropped; the window starts with the next one.
    if (served >= WARM_REQUESTS) start = { cpu: process.cpuUsage(), thread: samplerThreadCpuMs(), at: performance.now(), served, inContextMs, preemptions: preemptions() };
  }, 100);
  generator.on('exit', (code) => {
    clearInterval(collector);
    if (start === null) throw new Error(`the load ended (exit code ${code}) before the ${WARM_REQUESTS}-request warm-up did`);
    const threadMs = samplerThreadCpuMs() - start.thread;
    count(sampler.stop());
    const seconds = (performance.now() - start.at) / 1000;
    const cpu = process.cpuUsage(start.cpu);
    const measured = served - start.served;
    const perSecond = (n) => Math.round(n / seconds);
    console.log(JSON.stringify({
      loadExit: code,
      cpuUsPerRequest: (cpu.user + cpu.system) / measured,
      busyShare: (cpu.user + cpu.system) / 1e6 / seconds,
      samplerThreadMsPerSecond: threadMs / seconds,
      stacksPerSecond: perSecond(seen.stacks),
      preemptionsPerSecond: perSecond(preemptions() - start.preemptions),
      timedTicksPerSecond: perSecond((inContextMs - start.inContextMs) * 1000 / intervalUs),
      busyOfNoOnePerSecond: perSecond(seen.busyOfNoOne),
      idlePerSecond: perSecond(seen.idle),
    }));
    process.exit(0);
  });
}

async function main() {
  const { values: opt } = parseArgs({
    options: {
      node: { type: 'string', default: '24' },
      'interval-us': { type: 'string', default: '1000' },
      lines: { type: 'string', default: '40' },
      rounds: { type: 'string', default: '3' },
    },
  });
  if (!hasTaskset) throw new Error('sampler-ticks needs taskset (util-linux) to place the server and the load');
  const node = nodeBinary(opt.node);
  const dist = process.env.SONDE_AGENT_DIST ?? join(ROOT, 'dist');
  const placements = { 'server on CPU 1 with its ticker': ['-c', '1'], 'server free on both CPUs': ['-c', '0,1'] };
  const results = Object.fromEntries(Object.keys(placements).map((name) => [name, []]));
  for (let round = 0; round < Number(opt.rounds); round++) {
    for (const [name, cpus] of Object.entries(placements)) {
      const child = fork(SELF, ['server', dist, opt['interval-us'], opt.lines], { execPath: 'taskset', execArgv: [...cpus, node], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
      let out = '';
      child.stdout.on('data', (chunk) => (out += chunk));
      await new Promise((resolve) => child.on('exit', resolve));
      const result = JSON.parse(out.trim().split('\n').pop());
      if (result.loadExit !== 0) throw new Error(`${name}: the load generator failed`);
      results[name].push(result);
      console.error(`round ${round + 1}, ${name}: ${JSON.stringify(result)}`);
    }
  }
  const median = (rows, key) => quantile(rows.map((row) => row[key]), 0.5);
  console.log(`\n${node}; interval ${opt['interval-us']} µs; ${opt.lines} lines per order; ${RATE} requests/s; medians of ${opt.rounds} rounds; build ${dist}\n`);
  console.log('| placement | CPU µs/request | server busy | ticks with a stack /s | ticks the timed request code spans /s | busy ticks of no one /s | idle ticks /s | sampler thread CPU ms/s | JavaScript thread preempted /s |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [name, rows] of Object.entries(results)) {
    console.log(`| ${name} | ${median(rows, 'cpuUsPerRequest').toFixed(1)} | ${(median(rows, 'busyShare') * 100).toFixed(1)}% | ${median(rows, 'stacksPerSecond')} | ${median(rows, 'timedTicksPerSecond')} | ${median(rows, 'busyOfNoOnePerSecond')} | ${median(rows, 'idlePerSecond')} | ${median(rows, 'samplerThreadMsPerSecond').toFixed(1)} | ${median(rows, 'preemptionsPerSecond')} |`);
  }
}
