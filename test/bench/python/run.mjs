// Python agent overhead benchmark: `npm run bench:python [-- --rounds 5 --requests 2000 --concurrency 8 | --rate 50]`.
//
// A Django view doing realistic ORM-free work (test/bench/python/bench_app.py) under gunicorn gthread,
// one worker with 100 threads configured, pinned to CPU 1 when `taskset` exists (the clients and the
// operator then run on CPU 0). Modes, in a fresh random
// order every round, each a fresh server: no agent / agent idle (injected, connected, no session) /
// sampling at 10 ms / at 1 ms (a real session from the real operator) / cProfile around each request
// (the anchor). Measured: the worker's CPU time (utime+stime of every thread, /proc/PID/stat) per
// request over a closed-loop window, as a ratio to the same round's "no agent". Prints medians, the
// middle half and the spread (min–max) of the per-round ratios, ready for docs/BENCHMARKS.md; then where
// the CPU goes: the agent's own threads (sonde-link, sonde-sampler, named in the kernel by the agent) and
// the app's, per thread from /proc/PID/task/TID/schedstat.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BUNDLE, drive, pace, hasTaskset, median, pythonVersion, sessionOf, sleep, startOperator, startServer, startSession, stopServer, ordersOption, prepareBaseline, withBaseline, modeLabel } from './bench-common.mjs';

const { values: opt } = parseArgs({
  options: {
    // The view's work: orders it builds (40: ~0.45 ms of CPU a request; 600: ~3.6 ms).
    orders: { type: 'string', default: '40' },
    rounds: { type: 'string', default: '5' },
    requests: { type: 'string', default: '2000' },
    warm: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '8' },
    // Requests a second, sent on time (an open loop) instead of by `concurrency` clients as fast as the
    // server answers: light traffic, where the agent's cost per second (its threads' wake-ups, messages)
    // falls on few requests.
    rate: { type: 'string' },
    // none2 is a second server without the agent: an A/A control, the spread two identical servers show.
    // Diagnostic modes (bench-common.mjs `sessionOf`): nomatch10 (a session no request matches) and
    // sample1000 (every request followed and recorded, one tick a second), to take 10 ms apart.
    modes: { type: 'string', default: 'none,none2,idle,sample10,sample1,cprofile' },
    // A git revision: each agent mode also runs as MODE@baseline, the agent as it was there, in the same rounds.
    baseline: { type: 'string' },
  },
});
const ORDERS = ordersOption(opt.orders);
const RATE = opt.rate === undefined ? null : Number(opt.rate);
if (RATE !== null && !(RATE > 0 && RATE <= 10_000)) throw new Error(`--rate must be a number of requests a second from 1 to 10000, not ${opt.rate}`);
/** The measured load: paced at --rate, else closed-loop clients. */
const load = (port, total) => (RATE !== null ? pace(port, total, RATE) : drive(port, total, Number(opt.concurrency)));
const TICK_S = 1 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/** The worker's user and system CPU seconds so far (all its threads): apart, to tell the agent's own work from the kernel's. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) * TICK_S, sys: Number(f[12]) * TICK_S };
}

/** Per-thread counters so far, in one pass over the worker's threads: context switches summed over them
 * (voluntary: a thread blocked, on I/O or the GIL; involuntary: preempted; each costs CPU time that no
 * instruction count shows), and CPU ns (schedstat) of the agent's own threads, named in the kernel by the
 * agent (thread_name.py), and of all the others (the app's: gunicorn's main thread and request threads). */
function threadCounters(pid) {
  const counters = { switches: 0, link: 0, sampler: 0, app: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      const used = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      for (const m of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)/gm)) counters.switches += Number(m[1]);
      const name = /^Name:\s+(.*)$/m.exec(status)?.[1];
      counters[name === 'sonde-link' ? 'link' : name === 'sonde-sampler' ? 'sampler' : 'app'] += used;
    } catch {
      // the thread ended meanwhile
    }
  }
  return counters;
}

async function round(modes, op, r) {
  const result = {};
  for (const mode of modes) {
    const label = `${modeLabel(mode)}-${r}`;
    const s = await startServer(mode, label, op, hasTaskset ? ['taskset', '-c', '1'] : [], 30_000, { BENCH_ORDERS: String(ORDERS) });
    try {
      await drive(s.port, Number(opt.warm), Number(opt.concurrency));
      const session = sessionOf(mode);
      if (session) {
        await startSession(op, label, session.intervalMs, session.request);
        await sleep(300);
      }
      const before = cpuSeconds(s.worker);
      const threadsBefore = threadCounters(s.worker);
      const t0 = performance.now();
      await load(s.port, Number(opt.requests));
      const wall = (performance.now() - t0) / 1000;
      const after = cpuSeconds(s.worker);
      const threadsAfter = threadCounters(s.worker);
      const switches = (threadsAfter.switches - threadsBefore.switches) / Number(opt.requests);
      const threadUs = Object.fromEntries(['link', 'sampler', 'app'].map((k) => [k, (threadsAfter[k] - threadsBefore[k]) / 1000 / Number(opt.requests)]));
      const perRequest = (seconds) => (seconds * 1e6) / Number(opt.requests);
      const userUs = perRequest(after.user - before.user);
      const sysUs = perRequest(after.sys - before.sys);
      result[mode] = { cpuUsPerRequest: userUs + sysUs, userUs, sysUs, switches, threadUs, rps: Number(opt.requests) / wall };
    } finally {
      await stopServer(s);
    }
  }
  return result;
}

/** Quartile `q` (0.25, 0.75) of a list, by linear interpolation. */
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * q;
  return s[Math.floor(i)] + (s[Math.ceil(i)] - s[Math.floor(i)]) * (i - Math.floor(i));
};

async function main() {
  // The server is pinned to CPU 1; this process (the closed-loop clients) and the operator it starts run
  // on CPU 0, so that they neither preempt the server nor share its core's caches (a server's CPU time
  // per request spread ±5% between rounds when they ran anywhere).
  if (hasTaskset && process.env.SONDE_BENCH_PINNED !== '1') {
    const r = spawnSync('taskset', ['-c', '0', process.execPath, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, SONDE_BENCH_PINNED: '1' } });
    process.exit(r.status ?? 1);
  }
  if (!existsSync(join(BUNDLE, 'sitecustomize.py'))) throw new Error('dist/agent-bundle/python is missing: run `npm run build`');
  const dir = mkdtempSync(join(tmpdir(), 'sonde-bench-py-'));
  const baseDir = opt.baseline ? prepareBaseline(opt.baseline) : null;
  const op = await startOperator(dir);
  const modes = withBaseline(opt.modes.split(','), opt.baseline);
  const rounds = [];
  try {
    for (let r = 0; r < Number(opt.rounds); r++) {
      const order = [...modes].sort(() => Math.random() - 0.5);
      const res = await round(order, op, r);
      rounds.push(res);
      console.error(`round ${r + 1}: ${modes.map((m) => `${m} ${res[m].cpuUsPerRequest.toFixed(0)} µs (user ${res[m].userUs.toFixed(0)}, sys ${res[m].sysUs.toFixed(0)}, ${res[m].switches.toFixed(1)} switches)`).join(', ')}`);
    }
  } finally {
    op.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
    if (baseDir) rmSync(baseDir, { recursive: true, force: true });
  }
  console.log(`\nPython agent overhead: ${opt.rounds} rounds × ${opt.requests} requests, ${RATE !== null ? `paced at ${RATE} a second` : `concurrency ${opt.concurrency}`}, view of ${ORDERS} orders, gunicorn gthread 1 worker × 100 threads${hasTaskset ? ', server pinned to CPU 1, clients and operator to CPU 0' : ''}, CPython ${pythonVersion()}${opt.baseline ? `; @baseline: the agent at ${opt.baseline}` : ''}\n`);
  console.log('| mode | CPU µs/request (median) | added µs/request (median) | ratio to no agent (median) | middle half (q25–q75) | spread (min–max) | context switches/request (median) |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const m of modes) {
    const ratios = rounds.map((r) => r[m].cpuUsPerRequest / r.none.cpuUsPerRequest);
    // The added µs is about fixed per request; the ratio depends on the view's work (--orders).
    const added = rounds.map((r) => r[m].cpuUsPerRequest - r.none.cpuUsPerRequest);
    console.log(`| ${m} | ${median(rounds.map((r) => r[m].cpuUsPerRequest)).toFixed(0)} | ${median(added).toFixed(0)} | ${median(ratios).toFixed(3)} | ${quantile(ratios, 0.25).toFixed(3)}–${quantile(ratios, 0.75).toFixed(3)} | ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)} | ${median(rounds.map((r) => r[m].switches)).toFixed(1)} |`);
  }
  // Where the added CPU goes. The agent's own threads are measured alone and vary little between rounds;
  // what the agent adds to the app's threads (its request path, and what its threads do to theirs) is the
  // difference to the same round's "no agent", as noisy as the whole.
  console.log('\nWhere the CPU goes, µs/request (medians; in brackets the middle half of the per-round values):\n');
  // Agents before be59179 leave their threads unnamed: at such a baseline, their threads count as the app's.
  if (opt.baseline) console.log(`(The agent at ${opt.baseline} may not name its threads: then its link and sampler count among the app threads.)\n`);
  // The agent's threads also per second of the run: what they do a second (ticks, polls, flushes) does not
  // shrink with a heavier view, while their µs a request do.
  console.log('| mode | app threads | added on the app threads (to none, same round) | sonde-link | sonde-sampler | link + sampler, ms of CPU a second |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  const spread = (xs, digits) => `${median(xs).toFixed(digits)} [${quantile(xs, 0.25).toFixed(digits)}–${quantile(xs, 0.75).toFixed(digits)}]`;
  for (const m of modes) {
    const app = rounds.map((r) => r[m].threadUs.app);
    const addedOnApp = rounds.map((r) => r[m].threadUs.app - r.none.threadUs.app);
    const perSecond = rounds.map((r) => ((r[m].threadUs.link + r[m].threadUs.sampler) * r[m].rps) / 1000);
    console.log(`| ${m} | ${median(app).toFixed(0)} | ${spread(addedOnApp, 1)} | ${spread(rounds.map((r) => r[m].threadUs.link), 2)} | ${spread(rounds.map((r) => r[m].threadUs.sampler), 2)} | ${spread(perSecond, 1)} |`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
