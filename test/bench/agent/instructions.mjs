// Agent overhead in instructions per request: `npm run bench:agent:instructions [-- --node 24 --reps 3]`.
//
// The CPU-time benchmark (run.mjs) cannot resolve 1% on these machines: "no agent" itself moves by
// 10-30% between windows. Instructions executed do not depend on the neighbours, so here the same
// fastify service runs under valgrind (callgrind, instrumentation off until the window starts): a
// closed-loop warm-up of --warm requests, then instrumentation on for --requests requests, then a dump.
// The figure is the server's instructions per request, all threads (JIT compiler and GC included), for:
//   none      no agent
//   idle      the agent loaded with --import and connected, no session
//   profiled  (diagnostic, not in the default set) a session on the benchmarked type, sampling at its
//             slowest (1 s), to see where a profiled request's fixed costs go (with --keep). Its total
//             is not a per-request figure: the agent hands records over at each collect (every 10 s at
//             that interval), so the window holds more or fewer records than requests — both printed.
//   sampling  (diagnostic) the sampler running at 1 s with a session no request matches: what V8's
//             profiler being on costs the app's own code (API calls through the profiling path, code
//             logging), with no request tracked.
//   session10, session1  (diagnostic) a real session: the sampler first runs under load with a session
//             nothing matches, then one session takes exactly the measured requests, so the window
//             holds their tracking, sampling, the collect and every record. The interval is scaled to
//             valgrind's slowdown (measured with instrumentation on) to give the samples per request
//             that 10 ms / 1 ms give natively at --equivalent-rate (2,000) requests/s; see
//             startEquivalentSession for what that does and does not reproduce.
//   restarted10  (diagnostic) as session10, but the sampler is stopped after the rehearsal and a new
//             one started: whether a process's second sampler costs more than its first.
// The warm-up is long (20,000 requests) because a young process is still compiling, and compiling
// costs more while V8's profiler is on: after 5,000 requests a session read 1.126, after 20,000 1.013.
// Everything else time-driven (collects, progress) is ~50× too frequent per request under valgrind,
// which slows time.
// SONDE_BENCH_AGENT=/path/to/agent/register.js loads another build of the agent, to compare two builds.
// What remains noisy: whether a major GC or a late optimisation lands in the window (±1-2%); each mode
// runs --reps times in fresh processes and the medians are compared.
import { execFileSync, fork } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { closedLoop } from './closed-loop.mjs';
import { startOperator } from './mini-operator.mjs';
import { nodeBinary } from './runtime.mjs';
import { quantile, sleep } from './stats.mjs';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HERE = fileURLToPath(new URL('.', import.meta.url));
const { values: opt } = parseArgs({
  options: {
    node: { type: 'string', default: '20' },
    'node-flags': { type: 'string', default: '' },
    modes: { type: 'string', default: 'none,idle' },
    reps: { type: 'string', default: '3' },
    warm: { type: 'string', default: '20000' },
    requests: { type: 'string', default: '3000' },
    // Runs at once: instruction counts do not depend on sharing the CPU.
    jobs: { type: 'string', default: '2' },
    lines: { type: 'string', default: '40' },
    // Keep the callgrind dumps here (with --node-flags=--perf-basic-prof, /tmp/perf-PID.map names the
    // JIT code in them), to see where the instructions go.
    keep: { type: 'string' },
    // The native load the session modes' interval is scaled to (see startEquivalentSession).
    'equivalent-rate': { type: 'string', default: '2000' },
    'cpuprof-interval-us': { type: 'string', default: '18000' },
  },
});
const NODE_FLAGS = opt['node-flags'].split(' ').filter(Boolean);
const MODES = {
  none: { label: 'no agent' },
  idle: { label: 'agent idle (connected)', agent: true },
  profiled: { label: 'agent, every request profiled (sampling every 1 s)', agent: true, intervalMs: 1000 },
  sampling: { label: 'agent sampling every 1 s, no request matches', agent: true, intervalMs: 1000, request: 'GET /nothing' },
  session10: { label: 'agent, a session of all measured requests, sampling at the 10 ms equivalent', agent: true, equivalentMs: 10 },
  session1: { label: 'agent, a session of all measured requests, sampling at the 1 ms equivalent', agent: true, equivalentMs: 1 },
  restarted10: { label: 'as session10, on a sampler started after an earlier one stopped', agent: true, equivalentMs: 10, restart: true },
  // Diagnostic: `node --cpu-prof` (V8's sampler alone, on from the start) at --cpuprof-interval-us, which
  // has to be fixed before the process starts: the default is what session1 measures the 1 ms
  // equivalent to be under valgrind here (~18 ms).
  cpuprof1: { label: 'node --cpu-prof at the 1 ms equivalent', cpuProf: true },
};
const median = (xs) => quantile(xs, 0.5);

/**
 * A V8 state that decides ±6% on its own: once the inline cache of the tick-object literal in Node's
 * `process.nextTick` has seen enough object shapes, every tick object is built through this runtime
 * function (~37,000 instructions per request here). Whether a process lands in it depends on its
 * history (importing common modules such as express or better-sqlite3 into the app with no agent
 * triggers it too; under valgrind's timing the agent-loaded processes land in it in some runs and not
 * others). Each run reports what it spent there, and the summary also compares runs without it.
 */
const SLOW_TICK_FUNCTION = 'Runtime_DefineKeyedOwnPropertyInLiteral';

/** Instructions spent in `fn` and everything it called, from a callgrind dump. */
function inclusiveCost(dumpPath, fn) {
  const out = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', dumpPath], { maxBuffer: 64 * 1024 * 1024 }).toString();
  const line = out.split('\n').find((l) => l.includes(fn));
  return line ? Number(/^\s*([\d,]+)/.exec(line)?.[1].replaceAll(',', '') ?? 0) : 0;
}

function hasValgrind() {
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
    execFileSync('callgrind_control', ['-h'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * The session modes measure what a real session costs once the sampler runs: one session for exactly
 * the measured requests, so the window holds their tracking, the collect their last one triggers, and
 * every record built, serialised and sent, but not the sampler's start or stop. Under valgrind time runs
 * ~50× slower than the code, so a native interval would take ~50× too many samples per request; the
 * interval is scaled instead, to give the samples per request that `equivalentMs` gives natively at
 * --equivalent-rate requests per second. Natively most of those samples find the thread idle, here the
 * server is always busy, so the sampling part is an upper bound.
 */
async function startEquivalentSession(m, pod, port, operator) {
  const t0 = performance.now();
  await closedLoop(port, 500, 4);
  const ratePerS = 500 / ((performance.now() - t0) / 1000);
  const samplesPerRequest = 1000 / (m.equivalentMs * Number(opt['equivalent-rate']));
  const intervalMs = Math.max(1, Math.min(1000, Math.round(1000 / (samplesPerRequest * ratePerS))));
  const agent = operator.agents.get(pod);
  const start = (session, request, maxRequests) => agent.startSession({ session, request, maxRequests, sampleIntervalMs: intervalMs, deadlineMs: 3_600_000 });
  const ended = async (session, requests) => {
    const end = await agent.endedMessage(session, 2400, 50);
    if (!end) throw new Error(`${pod}: session ${session} never ended`);
    if (end.requests !== requests) console.error(`warning: ${pod}: session ${session} profiled ${end.requests} requests, not ${requests}`);
  };
  // Before the window the sampler runs under load with a session nothing matches, and one rehearsal
  // session of the same shape runs to its end: what V8 does once after its profiler starts (recompiling,
  // logging code) and compiling the agent's own tracking and reporting path are then behind us, as they
  // are a few seconds into a real session, instead of stretched over the window by valgrind's timing.
  // The measured session then joins the running sampler.
  start(`${pod}-background`, 'GET /nothing', 10_000);
  await sleep(1000);
  await closedLoop(port, Number(opt.warm), 4);
  const rehearsal = Math.min(Number(opt.requests), Number(opt.warm));
  start(`${pod}-rehearsal`, 'GET /api/orders/:id', rehearsal);
  await sleep(200);
  await closedLoop(port, rehearsal, 4);
  await ended(`${pod}-rehearsal`, rehearsal);
  if (m.restart) {
    // The sampler stops (no session left) and a new one starts: the measured session runs on the
    // process's second sampler, as every session after an idle spell does.
    agent.stopSession(`${pod}-background`);
    await ended(`${pod}-background`, 0);
    start(`${pod}-background2`, 'GET /nothing', 10_000);
    await sleep(1000);
    await closedLoop(port, Number(opt.warm), 4);
  }
  const session = `${pod}-session`;
  start(session, 'GET /api/orders/:id', Number(opt.requests));
  await sleep(200);
  return { intervalMs, ended: () => ended(session, Number(opt.requests)) };
}

async function measure(mode, rep, nodeBin, operator, outDir) {
  const m = MODES[mode];
  const pod = `instr-${mode}-${rep}`;
  const flags = [...NODE_FLAGS, ...(m.agent ? ['--import', process.env.SONDE_BENCH_AGENT ?? join(ROOT, 'dist/agent/register.js')] : [])];
  if (m.cpuProf) flags.push('--cpu-prof', '--cpu-prof-interval', opt['cpuprof-interval-us'], '--cpu-prof-dir', join(outDir, `${pod}-cpuprof`));
  const env = { ...process.env, SONDE_LOG_LEVEL: 'error', SONDE_BENCH_LINES: opt.lines };
  if (m.agent) Object.assign(env, { SONDE_URL: operator.url, POD_NAME: pod, POD_NAMESPACE: 'bench' });
  const vg = ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${join(outDir, `${pod}.%p`)}`, '--smc-check=all-non-file', nodeBin, ...flags];
  const child = fork(join(HERE, 'server.mjs'), [], { execPath: 'valgrind', execArgv: vg, env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  try {
    const ready = await new Promise((resolve, reject) => {
      child.on('message', (msg) => msg.type === 'ready' && resolve(msg));
      child.once('exit', (code) => reject(new Error(`${pod} exited (${code}): ${stderr}`)));
    });
    if (m.agent) {
      for (let i = 0; !operator.agents.has(pod); i++) {
        if (i > 2400) throw new Error(`${pod}: the agent never connected`);
        await sleep(25);
      }
      // The sampler runs through the warm-up (a session nothing matches); `profiled` starts its own
      // session after it, since a session takes at most 10,000 requests.
      if (m.intervalMs) operator.agents.get(pod).startSession({ session: `${pod}-background`, request: 'GET /nothing', maxRequests: 10_000, sampleIntervalMs: m.intervalMs, deadlineMs: 3_600_000 });
    }
    await closedLoop(ready.port, Number(opt.warm), 4);
    if (m.intervalMs && !m.request) {
      operator.agents.get(pod).startSession({ session: pod, request: 'GET /api/orders/:id', maxRequests: Math.min(10_000, Number(opt.requests) + 100), sampleIntervalMs: m.intervalMs, deadlineMs: 3_600_000 });
      await sleep(3000); // the session's warm-up window, slowed by valgrind
    }
    let equivalent;
    execFileSync('callgrind_control', ['-i', 'on', String(child.pid)], { stdio: 'ignore' });
    // Instrumented code runs slower than uninstrumented: the session modes time the server with it on.
    if (m.equivalentMs) equivalent = await startEquivalentSession(m, pod, ready.port, operator);
    const recordsBefore = operator.agents.get(pod)?.records ?? 0;
    execFileSync('callgrind_control', ['-z', String(child.pid)], { stdio: 'ignore' });
    await closedLoop(ready.port, Number(opt.requests), 4);
    if (equivalent) await equivalent.ended();
    execFileSync('callgrind_control', ['-d', String(child.pid)], { stdio: 'ignore' });
    execFileSync('callgrind_control', ['-i', 'off', String(child.pid)], { stdio: 'ignore' });
    let dump;
    for (let i = 0; i < 200 && !dump; i++) {
      dump = readdirSync(outDir).find((f) => f.startsWith(`${pod}.`) && f.endsWith('.1'));
      if (!dump) await sleep(50);
    }
    if (!dump) throw new Error(`${pod}: no callgrind dump`);
    const text = readFileSync(join(outDir, dump), 'utf8');
    const total = Number(/^(?:totals|summary): (\d+)/m.exec(text)?.[1]);
    if (!(total > 0)) throw new Error(`${pod}: no instruction total in the dump`);
    const profiled = m.intervalMs || m.equivalentMs ? (operator.agents.get(pod)?.records ?? 0) - recordsBefore : undefined;
    const slowTick = inclusiveCost(join(outDir, dump), SLOW_TICK_FUNCTION) / Number(opt.requests);
    return { mode, rep, perRequest: total / Number(opt.requests), slowTick, profiled, intervalMs: equivalent?.intervalMs };
  } catch (err) {
    throw new Error(`${pod}: ${err.message}${stderr ? `\n--- server stderr (last 4,000 characters) ---\n${stderr}` : ''}`, { cause: err });
  } finally {
    child.kill('SIGKILL');
  }
}

async function main() {
  if (!hasValgrind()) {
    console.error('valgrind (with callgrind_control) is not installed: apt-get install valgrind');
    process.exit(2);
  }
  if (!existsSync(join(ROOT, 'dist/agent/register.js'))) throw new Error('dist/agent is missing: run `npm run build`');
  const nodeBin = nodeBinary(opt.node);
  const version = execFileSync(nodeBin, ['--version']).toString().trim();
  const modes = opt.modes.split(',');
  if (!modes.includes('none')) throw new Error('the modes must include "none": it is the baseline');
  const outDir = mkdtempSync(join(tmpdir(), 'sonde-instr-'));
  const operator = await startOperator();
  const queue = [];
  for (let rep = 0; rep < Number(opt.reps); rep++) for (const mode of [...modes].sort(() => Math.random() - 0.5)) queue.push([mode, rep]);
  console.error(`node ${version}${NODE_FLAGS.length ? ` ${NODE_FLAGS.join(' ')}` : ''}: ${queue.length} runs under callgrind, ${opt.jobs} at a time, ${opt.warm} warm-up + ${opt.requests} measured requests each`);
  const results = [];
  const worker = async () => {
    while (queue.length) {
      const [mode, rep] = queue.shift();
      const r = await measure(mode, rep, nodeBin, operator, outDir);
      console.error(`  ${mode} #${rep + 1}: ${Math.round(r.perRequest).toLocaleString('en')} instructions/request (nextTick slow path: ${Math.round(r.slowTick).toLocaleString('en')})${r.profiled === undefined ? '' : `, ${r.profiled} records received during the ${opt.requests} requests`}${r.intervalMs ? `, sampling every ${r.intervalMs} ms under valgrind` : ''}`);
      results.push(r);
    }
  };
  try {
    await Promise.all(Array.from({ length: Number(opt.jobs) }, worker));
  } finally {
    operator.close();
    if (opt.keep) {
      execFileSync('cp', ['-r', `${outDir}/.`, opt.keep]);
      console.error(`callgrind dumps kept in ${opt.keep}`);
    }
    rmSync(outDir, { recursive: true, force: true });
  }
  const of = (mode) => results.filter((r) => r.mode === mode);
  const base = median(of('none').map((r) => r.perRequest));
  const baseSteady = median(of('none').map((r) => r.perRequest - r.slowTick));
  console.log(`\nnode ${version}${NODE_FLAGS.length ? ` ${NODE_FLAGS.join(' ')}` : ''}; instructions per request under callgrind (all threads); ${opt.reps} fresh processes per mode; ${opt.lines} order lines\n`);
  console.log('| mode | instructions/request (median) | ratio to no agent | runs | runs in the nextTick slow path | ratio without the nextTick slow path (runs) |');
  console.log('| --- | ---: | ---: | --- | ---: | --- |');
  for (const mode of modes) {
    const rs = of(mode);
    const med = median(rs.map((r) => r.perRequest));
    const steady = rs.map((r) => (r.perRequest - r.slowTick) / baseSteady);
    const slow = rs.filter((r) => r.slowTick > 1000).length;
    console.log(`| ${MODES[mode].label} | ${Math.round(med).toLocaleString('en')} | ${(med / base).toFixed(3)} | ${rs.map((r) => (r.perRequest / base).toFixed(3)).join(', ')} | ${slow} of ${rs.length} | ${median(steady).toFixed(3)} (${steady.map((x) => x.toFixed(3)).join(', ')}) |`);
  }
}

await main();
