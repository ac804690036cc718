// Agent overhead benchmark: `npm run bench:agent [-- --node 22 --node-flags=--experimental-async-context-frame --rounds 10 --seconds 3 --rate 2000 --lines 40 --reuse]`.
//
// Six copies of one fastify service run side by side, each pinned to CPU 1 (the load generator and
// this script take CPU 0): no agent / a second no-agent server (an A/A control) / agent idle (loaded,
// connected, no session) / agent sampling every 10 ms / every 1 ms / `node --cpu-prof` at 1 ms as the
// anchor. Rounds interleave the modes in a fresh
// random order; each round measures the server's own CPU per request (process.cpuUsage in the server)
// and the client's p99 latency, as a ratio to the same round's "no agent". Medians and spread are
// printed, ready for docs/BENCHMARKS.md. What is measured is the steady state of a service that has
// been up a while: every round's fresh processes are warmed under load, and each sampling server runs
// one short rehearsal session to its end meanwhile, so the measured session is its second (a process's
// first session compiles the agent's path once; `--rehearsal 0` measures that instead).
import { fork, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { closedLoop } from './closed-loop.mjs';
import { startOperator } from './mini-operator.mjs';
import { hasTaskset, nodeBinary } from './runtime.mjs';
import { quantile, sleep } from './stats.mjs';
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HERE = fileURLToPath(new URL('.', import.meta.url));
const { values: opt } = parseArgs({
  options: {
    node: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '3' },
    // Requests per second, sent on a fixed schedule (open loop): the server is not saturated, so p99
    // means latency rather than queue length, and a round stays under a session's 10,000 requests.
    rate: { type: 'string', default: '2000' },
    modes: { type: 'string', default: 'none,none2,idle,sample10,sample1,cpuprof' },
    // Order lines per response: the handler's size (40 ≈ 0.1 ms of CPU per request on Node 20).
    lines: { type: 'string', default: '40' },
    json: { type: 'boolean', default: false },
    // Extra flags for every server, baseline included, e.g. `--node-flags=--experimental-async-context-frame`
    // to run Node 22 the way its agent users are told to.
    'node-flags': { type: 'string', default: '' },
    // Keep one process per mode for all rounds instead of fresh processes every round. Fresh is the
    // default: a process's own JIT and GC history biases it by several percent for its whole life, and
    // only new processes per round turn that bias into noise that the median can remove.
    reuse: { type: 'boolean', default: false },
    // Load before each measured window: the sampler's start and its warm-up window.
    settle: { type: 'string', default: '1.5' },
    // Fresh processes are first warmed, all at once, with this many requests each (closed loop, as fast
    // as they answer): a young process still compiles, and while V8's profiler is on every compile
    // costs more (code logging, source positions), which is not the steady state of a service that
    // has been up for a while. Measured: 5,000 requests of warm-up left a session at the 10 ms
    // equivalent at 1.13 in instructions, 20,000 at 1.01 (docs/BENCHMARKS.md).
    warm: { type: 'string', default: '30000' },
    // During the warm-up each sampling server runs one session of this many requests at its interval,
    // to its end, so that the measured session is not the process's first: a first session compiles
    // the agent's tracking, collecting and reporting code inside the window (a one-off; 0 here, or
    // the sample10first mode, measures first sessions).
    rehearsal: { type: 'string', default: '500' },
  },
});
const NODE_FLAGS = opt['node-flags'].split(' ').filter(Boolean);


const MODES = {
  none: { label: 'no agent', flags: [] },
  // A second no-agent server measured like the others: an A/A control, what the method reads where
  // there is no difference (its spread is the noise floor of every other row).
  none2: { label: 'no agent (a second server, control)', flags: [] },
  idle: { label: 'agent idle (connected)', agent: true },
  sample10: { label: 'agent sampling 10 ms', agent: true, intervalMs: 10 },
  sample1: { label: 'agent sampling 1 ms', agent: true, intervalMs: 1 },
  // Diagnostic, not in the default set: as sample10, but its process runs no rehearsal, so the
  // measured session is its first (and its sampler the process's first).
  sample10first: { label: 'agent sampling 10 ms, first session in the process', agent: true, intervalMs: 10, rehearse: false },
  cpuprof: { label: 'node --cpu-prof 1 ms', flags: ['--cpu-prof', '--cpu-prof-interval', '1000'] },
  // Diagnostic, not in the default set: V8's own profiler at 10 ms, on from the process's start.
  cpuprof10: { label: 'node --cpu-prof 10 ms', flags: ['--cpu-prof', '--cpu-prof-interval', '10000'] },
  // Diagnostic, not in the default set: sampling runs but no request matches, so no records are made.
  // The difference to sample10 is the cost of recording and sending requests.
  nomatch10: { label: 'agent sampling 10 ms, no request matches', agent: true, intervalMs: 10, request: 'GET /nothing' },
  // Diagnostic, not in the default set: the agent on V8's sampler (@datadog/pprof), the fallback
  // where the interrupt sampler is not built, and the default before 2026-12 (ADR 0003).
  v8sample10: { label: "agent sampling 10 ms, V8's sampler", agent: true, intervalMs: 10, env: { SONDE_SAMPLER: 'v8' } },
  v8sample1: { label: "agent sampling 1 ms, V8's sampler", agent: true, intervalMs: 1, env: { SONDE_SAMPLER: 'v8' } },
};

async function startServer(mode, nodeBin, operatorUrl, profDir) {
  const m = MODES[mode];
  const flags = [...NODE_FLAGS, ...(m.agent ? ['--import', join(ROOT, 'dist/agent/register.js')] : m.flags)];
  if (mode.startsWith('cpuprof')) flags.push('--cpu-prof-dir', profDir);
  const env = { ...process.env, SONDE_LOG_LEVEL: process.env.SONDE_BENCH_AGENT_LOG ?? 'error', SONDE_BENCH_LINES: opt.lines };
  delete env.SONDE_BENCH_PINNED;
  if (m.agent) Object.assign(env, { SONDE_URL: operatorUrl, POD_NAME: `bench-${mode}`, POD_NAMESPACE: 'bench' }, m.env);
  const exec = hasTaskset ? { execPath: 'taskset', execArgv: ['-c', '1', nodeBin, ...flags] } : { execPath: nodeBin, execArgv: flags };
  const child = fork(join(HERE, 'server.mjs'), [], { ...exec, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = (type) => new Promise((resolve, reject) => {
    const on = (msg) => {
      if (msg.type === type) {
        child.off('message', on);
        child.off('exit', exit);
        resolve(msg);
      }
    };
    const exit = (code) => {
      child.off('message', on);
      reject(new Error(`${mode} server exited (${code})`));
    };
    child.on('message', on);
    child.once('exit', exit);
  });
  const ready = await next('ready');
  return { mode, child, port: ready.port, node: ready.node, next };
}

/**
 * Open-loop keep-alive load at `rate` requests per second. Latency counts from the scheduled send time,
 * so a stalled server shows up in it (no coordinated omission). Latencies are kept only while
 * `recording`.
 */
function startLoad(port, rate) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const state = { recording: false, latencies: [], errors: 0, skipped: 0 };
  let outstanding = 0;
  let id = 0;
  const one = (scheduled) => {
    if (outstanding >= 512) {
      state.skipped++;
      return;
    }
    outstanding++;
    const recording = state.recording;
    const req = http.get({ host: '127.0.0.1', port, path: `/api/orders/${id++ % 5000}`, agent }, (res) => {
      res.resume();
      res.on('end', () => {
        outstanding--;
        if (recording && state.recording) state.latencies.push(performance.now() - scheduled);
      });
    });
    req.on('error', () => {
      outstanding--;
      state.errors++;
    });
  };
  const t0 = performance.now();
  let sent = 0;
  const tick = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) * rate) / 1000);
    for (; sent < due; sent++) one(t0 + (sent * 1000) / rate);
  }, 2);
  state.done = async () => {
    clearInterval(tick);
    for (let i = 0; i < 200 && outstanding > 0; i++) await sleep(10);
    agent.destroy();
  };
  return state;
}


async function main() {
  if (!existsSync(join(ROOT, 'dist/agent/register.js'))) throw new Error('dist/agent is missing: run `npm run build` (npm run bench:agent does)');
  const nodeBin = nodeBinary(opt.node);
  const modes = opt.modes.split(',');
  if (!modes.includes('none')) throw new Error('the modes must include "none": it is the baseline');
  const rounds = Number(opt.rounds);
  const seconds = Number(opt.seconds);
  const rate = Number(opt.rate);
  if (rate * (seconds + 1) > 10_000) console.error(`warning: ${rate} req/s for ${seconds} s exceeds a session's 10,000 requests; sampling rounds would end early`);
  const profDir = mkdtempSync(join(tmpdir(), 'sonde-bench-prof-'));
  const operator = await startOperator();
  let servers = {};
  const startAll = async () => {
    for (const mode of modes) operator.agents.delete(`bench-${mode}`);
    const started = {};
    for (const mode of modes) started[mode] = await startServer(mode, nodeBin, operator.url, profDir);
    for (const mode of modes.filter((m) => MODES[m].agent)) {
      for (let i = 0; !operator.agents.has(`bench-${mode}`); i++) {
        if (i > 200) throw new Error(`agent of ${mode} never connected`);
        await sleep(25);
      }
    }
    // All servers at once (they share CPU 1).
    await Promise.all(modes.map((mode) => closedLoop(started[mode].port, Number(opt.warm), 8)));
    // Then each sampling server's rehearsal session, under load until it ends (its first requests fall
    // in the sampler's warm-up and are not profiled).
    const rehearsals = Number(opt.rehearsal) > 0 ? modes.filter((m) => MODES[m].intervalMs && MODES[m].rehearse !== false) : [];
    await Promise.all(rehearsals.map(async (mode) => {
      const agent = operator.agents.get(`bench-${mode}`);
      const session = `rehearsal-${mode}`;
      agent.startSession({ session, request: MODES[mode].request ?? 'GET /api/orders/:id', maxRequests: Number(opt.rehearsal), sampleIntervalMs: MODES[mode].intervalMs, deadlineMs: 10_000 });
      for (let i = 0; i < 40 && !agent.ended.some((e) => e.session === session); i++) await closedLoop(started[mode].port, 250, 8);
      const ended = await agent.endedMessage(session, 200, 25);
      // A no-match mode's rehearsal ends at its deadline by design; it still ran the sampler and its collects.
      if (!MODES[mode].request && ended?.reason !== 'requests') console.error(`warning: ${mode}'s rehearsal session ended ${ended ? `by ${ended.reason}` : 'never'}`);
    }));
    return started;
  };
  const stopAll = async () => {
    for (const s of Object.values(servers)) {
      const gone = new Promise((r) => s.child.once('exit', r));
      s.child.send('exit');
      await Promise.race([gone, sleep(5000)]);
      s.child.kill();
    }
    servers = {};
  };
  servers = await startAll();
  const node = servers.none.node;
  console.error(`node ${node}${NODE_FLAGS.length ? ` ${NODE_FLAGS.join(' ')}` : ''}, ${rounds} rounds × ${modes.length} modes × ${seconds}s, ${rate} req/s, ${opt.reuse ? 'one process per mode for all rounds' : 'fresh processes every round'}, ${opt.warm} warm-up requests each${Number(opt.rehearsal) > 0 ? ` with a ${opt.rehearsal}-request rehearsal session` : ', first sessions'}, ${hasTaskset ? 'server on CPU 1, load on CPU 0' : 'NOT pinned (no taskset)'}`);

  const results = Object.fromEntries(modes.map((m) => [m, []]));
  for (let r = 0; r < rounds; r++) {
    if (r > 0 && !opt.reuse) {
      await stopAll();
      servers = await startAll();
    }
    const order = [...modes].sort(() => Math.random() - 0.5);
    const round = {};
    for (const mode of order) {
      const s = servers[mode];
      const m = MODES[mode];
      const agent = operator.agents.get(`bench-${mode}`);
      const session = `bench-${mode}-${r}`;
      if (m.intervalMs) {
        agent.startSession({ session, request: m.request ?? 'GET /api/orders/:id', maxRequests: 10_000, sampleIntervalMs: m.intervalMs, deadlineMs: 120_000 });
      }
      const load = startLoad(s.port, rate);
      await sleep(Number(opt.settle) * 1000); // warm-up: JIT, sampler start and its warm-up window
      s.child.send('mark');
      load.recording = true;
      await sleep(seconds * 1000);
      const report = s.next('report');
      s.child.send('report');
      const { cpuUs, systemUs, requests } = await report;
      load.recording = false;
      await load.done();
      let sampled = null;
      let ownSamples = null;
      if (m.intervalMs) {
        agent.stopSession(session);
        const ended = await agent.endedMessage(session, 200, 25);
        if (!ended || ended.reason !== 'stopped') console.error(`warning: ${mode} round ${r + 1} session ended ${ended ? `by ${ended.reason}` : 'never'}: sampling may not have covered the round`);
        sampled = ended?.requests ?? 0;
        ownSamples = sampled > 0 ? ((agent.samples.get(session) ?? 0) * 1000) / sampled : 0;
      }
      if (load.errors || load.skipped) console.error(`warning: ${mode} round ${r + 1}: ${load.errors} errors, ${load.skipped} requests skipped (server too slow for the rate)`);
      round[mode] = { cpuUsPerReq: cpuUs / requests, systemUsPerReq: systemUs / requests, p99Ms: quantile(load.latencies, 0.99), rps: requests / seconds, errors: load.errors, sampled, ownSamples };
    }
    for (const mode of modes) {
      results[mode].push({ ...round[mode], cpuRatio: round[mode].cpuUsPerReq / round.none.cpuUsPerReq, p99Ratio: round[mode].p99Ms / round.none.p99Ms });
    }
    console.error(`round ${r + 1}/${rounds}: ` + modes.map((m) => `${m} ${round[m].cpuUsPerReq.toFixed(0)}µs/req ×${(round[m].cpuUsPerReq / round.none.cpuUsPerReq).toFixed(3)}`).join('  '));
  }

  await stopAll();
  operator.close();
  rmSync(profDir, { recursive: true, force: true });

  const fmt = (x) => x.toFixed(3);
  const spread = (xs) => `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))} (IQR ${fmt(quantile(xs, 0.25))}–${fmt(quantile(xs, 0.75))})`;
  const rows = modes.map((mode) => {
    const rs = results[mode];
    const cpu = rs.map((x) => x.cpuRatio);
    const p99 = rs.map((x) => x.p99Ratio);
    return {
      mode,
      label: MODES[mode].label,
      cpuUsPerReq: quantile(rs.map((x) => x.cpuUsPerReq), 0.5),
      // The kernel's share (system time): where a signal-driven sampler's cost would show.
      systemUsPerReq: quantile(rs.map((x) => x.systemUsPerReq), 0.5),
      cpuRatio: quantile(cpu, 0.5),
      cpuSpread: spread(cpu),
      // The agent's cost in absolute terms, which carries over to other request sizes: this round's CPU
      // per request minus the same round's "no agent".
      addedUsPerReq: quantile(rs.map((x) => x.cpuUsPerReq - x.cpuUsPerReq / x.cpuRatio), 0.5),
      p99Ms: quantile(rs.map((x) => x.p99Ms), 0.5),
      p99Ratio: quantile(p99, 0.5),
      p99Spread: spread(p99),
      rps: quantile(rs.map((x) => x.rps), 0.5),
      sampled: rs[0].sampled === null ? null : quantile(rs.map((x) => x.sampled), 0.5),
      // Samples of the requests' own code per 1,000 profiled requests: what the sampler saw, which is
      // what its cost buys (a sampler starved of the CPU is cheap and blind).
      ownSamples: rs[0].ownSamples === null ? null : quantile(rs.map((x) => x.ownSamples), 0.5),
    };
  });
  if (opt.json) console.log(JSON.stringify({ node, lines: Number(opt.lines), rounds, seconds, rate, pinned: hasTaskset, rows }, null, 2));
  console.log(`\nnode ${node}${NODE_FLAGS.length ? ` ${NODE_FLAGS.join(' ')}` : ''}; ${opt.lines} order lines per response; ${rounds} interleaved rounds of ${seconds} s per mode (${opt.reuse ? 'same processes' : 'fresh processes'} each round; ${Number(opt.rehearsal) > 0 ? `the measured session is each process's second, after a ${opt.rehearsal}-request rehearsal` : "the measured session is each process's first"}); ${rate} req/s open loop\n`);
  console.log('| mode | CPU µs/req (median) | of which system | added µs/req (median) | CPU ratio median | CPU ratio min–max (IQR) | p99 ms | p99 ratio median | p99 ratio min–max (IQR) | req/s | own samples per 1,000 requests |');
  console.log('| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- | ---: | ---: |');
  for (const r of rows) {
    console.log(`| ${r.label} | ${r.cpuUsPerReq.toFixed(0)} | ${r.systemUsPerReq.toFixed(0)} | ${r.addedUsPerReq.toFixed(1)} | ${fmt(r.cpuRatio)} | ${r.cpuSpread} | ${r.p99Ms.toFixed(2)} | ${fmt(r.p99Ratio)} | ${r.p99Spread} | ${r.rps.toFixed(0)} | ${r.ownSamples === null ? '' : r.ownSamples.toFixed(0)} |`);
  }
}

// Pin this process (the load generator) to CPU 0 by re-running under taskset.
if (hasTaskset && !process.env.SONDE_BENCH_PINNED) {
  const child = spawn('taskset', ['-c', '0', process.execPath, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, SONDE_BENCH_PINNED: '1' } });
  child.on('exit', (code) => process.exit(code ?? 1));
} else {
  await main();
}
