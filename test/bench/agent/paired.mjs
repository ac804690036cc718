// Same-process paired overhead: `node test/bench/agent/paired.mjs [--node 24] [--pairs 30] [--window 1]`.
//
// The cross-process benchmark (run.mjs) compares five servers; on a busy machine their CPU per request
// differs by more than the effect being measured. Here one server (pinned to CPU 1) switches between
// states every window — agent off, agent idle, sampling at 10 ms, at 1 ms — in a random order per
// cycle, under the same open-loop load. Each window's CPU per request is divided by the "off" window of
// the same cycle, so slow drift and neighbours' noise mostly cancel. The session is restarted each
// window and its warm-up (500 ms) falls in a settle period before the measured window.
import { fork, spawn } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { hasTaskset, nodeBinary } from './runtime.mjs';
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HERE = fileURLToPath(new URL('.', import.meta.url));
const { values: opt } = parseArgs({
  options: {
    node: { type: 'string', default: '20' },
    pairs: { type: 'string', default: '30' },
    window: { type: 'string', default: '1' },
    rate: { type: 'string', default: '2000' },
    lines: { type: 'string', default: '40' },
  },
});

const STATES = {
  off: { agent: false, intervalMs: 0 },
  idle: { agent: true, intervalMs: 0 },
  sample10: { agent: true, intervalMs: 10 },
  sample1: { agent: true, intervalMs: 1 },
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

async function main() {
  const nodeBin = nodeBinary(opt.node);
  const env = { ...process.env, SONDE_AGENT_LIB: join(ROOT, 'dist/agent/index.js'), SONDE_BENCH_LINES: opt.lines };
  delete env.SONDE_BENCH_PINNED;
  const exec = hasTaskset ? { execPath: 'taskset', execArgv: ['-c', '1', nodeBin] } : { execPath: nodeBin, execArgv: [] };
  const child = fork(join(HERE, 'paired-server.mjs'), [], { ...exec, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = (type) => new Promise((resolve) => {
    const on = (m) => {
      if (m.type === type) {
        child.off('message', on);
        resolve(m);
      }
    };
    child.on('message', on);
  });
  const { port, node } = await next('ready');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const rate = Number(opt.rate);
  let id = 0;
  const t0 = performance.now();
  let sent = 0;
  const tick = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) * rate) / 1000);
    for (; sent < due; sent++) http.get({ host: '127.0.0.1', port, path: `/api/orders/${id++ % 5000}`, agent }, (r) => r.resume()).on('error', () => {});
  }, 2);
  await sleep(2000);
  const windowMs = Number(opt.window) * 1000;
  const ratios = { idle: [], sample10: [], sample1: [] };
  const cpu = { off: [], idle: [], sample10: [], sample1: [] };
  for (let p = 0; p < Number(opt.pairs); p++) {
    const order = Object.keys(STATES).sort(() => Math.random() - 0.5);
    const got = {};
    for (const name of order) {
      const s = STATES[name];
      child.send({ cmd: 'agent', on: s.agent });
      child.send({ cmd: 'session', intervalMs: s.intervalMs });
      await sleep(700); // settle: sampler warm-up, JIT
      child.send('mark');
      await sleep(windowMs);
      const rep = next('report');
      child.send('report');
      const { cpuUs, requests } = await rep;
      got[name] = cpuUs / requests;
      cpu[name].push(got[name]);
    }
    for (const k of Object.keys(ratios)) ratios[k].push(got[k] / got.off);
    process.stderr.write(`pair ${p + 1}: ` + Object.entries(got).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(' ') + '\n');
  }
  clearInterval(tick);
  child.send({ cmd: 'session', intervalMs: 0 });
  child.send('exit');
  agent.destroy();
  console.log(`\nnode ${node}; ${opt.lines} order lines; ${opt.pairs} cycles of ${opt.window} s windows; ${rate} req/s open loop; same process\n`);
  console.log('| state | CPU µs/req (median) | ratio to off, median | IQR | min–max |');
  console.log('| --- | ---: | ---: | --- | --- |');
  console.log(`| agent off | ${median(cpu.off).toFixed(1)} | 1.000 | | |`);
  for (const [k, label] of [['idle', 'agent idle'], ['sample10', 'sampling 10 ms'], ['sample1', 'sampling 1 ms']]) {
    const r = ratios[k];
    console.log(`| ${label} | ${median(cpu[k]).toFixed(1)} | ${median(r).toFixed(3)} | ${q(r, 0.25).toFixed(3)}–${q(r, 0.75).toFixed(3)} | ${Math.min(...r).toFixed(3)}–${Math.max(...r).toFixed(3)} |`);
  }
}

if (hasTaskset && !process.env.SONDE_BENCH_PINNED) {
  const c = spawn('taskset', ['-c', '0', process.execPath, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, SONDE_BENCH_PINNED: '1' } });
  c.on('exit', (code) => process.exit(code ?? 1));
} else {
  await main();
}
