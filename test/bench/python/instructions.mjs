// Python agent overhead in instructions: `npm run bench:python:instructions [-- --rounds 2 --requests 400]`.
//
// CPU time on a shared 2-core machine spreads ±5% between two identical servers; instruction counts do
// not. The same gunicorn gthread worker as run.mjs (bench_app.py, 1 worker × 100 threads, 8 closed-loop
// clients) runs under `valgrind --tool=callgrind`, which counts every instruction of every thread of the
// worker (request threads, the agent's sampler and link threads, the GIL hand-offs between them). The
// window is bracketed by two marker requests (--zero-before=getsid, --dump-before=getpgid, see
// bench_app.py's `mark`), so start-up and warm-up are not counted. Modes, each a fresh server, in a fresh
// random order per round: no agent / idle (injected, connected to the real operator, no session) /
// sampling at 10 ms and 1 ms (a real session).
//
// Valgrind slows the worker ~30×, while the sampler ticks by the wall clock: at 10 ms it would tick 30×
// more often per request than natively. So the session's interval is scaled by the slowdown measured in
// this run (native wall time per request, no agent, against the same under valgrind), and so are the
// link thread's periods (polls, flushes, progress, catalogue: SONDE_TIME_SCALE): wake-ups per request
// stay what they are natively. (Without that, the link thread's 50 ms polls alone counted ~200,000
// instructions a request at 10 ms.)
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BUNDLE, drive, get, median, pythonVersion, sessionOf, sleep, startOperator, startServer, startSession, stopServer, ordersOption, prepareBaseline, withBaseline, modeLabel } from './bench-common.mjs';

const { values: opt } = parseArgs({
  options: {
    // The view's work: orders it builds (40: ~0.45 ms of CPU a request; 600: ~3.6 ms).
    orders: { type: 'string', default: '40' },
    rounds: { type: 'string', default: '2' },
    requests: { type: 'string', default: '400' },
    warm: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '8' },
    modes: { type: 'string', default: 'none,idle,sample10,sample1' },
    // A git revision: each agent mode also runs as MODE@baseline, the agent as it was there, in the same rounds.
    baseline: { type: 'string' },
    // Keeps the callgrind dumps (one per mode and round) in this directory, for callgrind_annotate.
    keep: { type: 'string' },
  },
});
const ORDERS = ordersOption(opt.orders);
const N = Number(opt.requests);
const C = Number(opt.concurrency);

/** Native wall ms per request without the agent: the denominator of valgrind's slowdown. */
async function nativeWallMs(op) {
  const s = await startServer('none', 'native', op, [], 30_000, { BENCH_ORDERS: String(ORDERS) });
  try {
    await drive(s.port, 300, C);
    const t0 = performance.now();
    await drive(s.port, 1000, C);
    return (performance.now() - t0) / 1000;
  } finally {
    await stopServer(s);
  }
}

async function measure(mode, label, op, dir, slowdown) {
  const out = join(dir, label);
  const wrap = ['valgrind', '--tool=callgrind', `--callgrind-out-file=${out}.%p`, '--dump-instr=no', '--zero-before=getsid', '--dump-before=getpgid'];
  const s = await startServer(mode, label, op, wrap, 300_000, mode === 'none' ? { BENCH_ORDERS: String(ORDERS) } : { BENCH_ORDERS: String(ORDERS), SONDE_TIME_SCALE: slowdown.toFixed(1) });
  try {
    await drive(s.port, Number(opt.warm), C);
    let intervalMs = null;
    const session = sessionOf(mode);
    if (session) {
      intervalMs = Math.min(1000, Math.max(1, Math.round(session.intervalMs * slowdown)));
      // A session's interval cannot pass 1000 ms: a mode whose scaled interval would (sample1000) ticks more
      // often per request here than natively, and its figure is an upper bound.
      if (intervalMs < session.intervalMs * slowdown * 0.99) console.error(`${mode}: interval capped at ${intervalMs} ms (${(session.intervalMs * slowdown).toFixed(0)} ms would match native ticks per request)`);
      await startSession(op, label, intervalMs, session.request);
      await sleep(1000);
    }
    await get(s.port, '/bench/mark/zero');
    const t0 = performance.now();
    await drive(s.port, N, C);
    const wallMs = (performance.now() - t0) / N;
    await get(s.port, '/bench/mark/dump');
    const file = readdirSync(dir).find((f) => f.startsWith(`${label}.${s.worker}.`));
    if (!file) throw new Error(`${label}: no callgrind dump for worker ${s.worker}`);
    const totals = /^totals:\s+(\d+)/m.exec(readFileSync(join(dir, file), 'utf8'));
    if (!totals) throw new Error(`${label}: no totals in ${file}`);
    return { instructions: Number(totals[1]) / N, wallMs, intervalMs };
  } finally {
    await stopServer(s);
  }
}

async function main() {
  if (!existsSync(join(BUNDLE, 'sitecustomize.py'))) throw new Error('dist/agent-bundle/python is missing: run `npm run build`');
  const dir = opt.keep ?? mkdtempSync(join(tmpdir(), 'sonde-bench-py-ir-'));
  mkdirSync(dir, { recursive: true });
  const op = await startOperator(dir);
  const baseDir = opt.baseline ? prepareBaseline(opt.baseline) : null;
  const modes = withBaseline(opt.modes.split(','), opt.baseline);
  if (!modes.includes('none')) modes.unshift('none');
  const rounds = [];
  let slowdown = 1;
  try {
    const native = await nativeWallMs(op);
    // Round 1 measures "none" first: its wall time under valgrind gives the slowdown the intervals scale by.
    for (let r = 0; r < Number(opt.rounds); r++) {
      const order = ['none', ...modes.filter((m) => m !== 'none').sort(() => Math.random() - 0.5)];
      if (r > 0) order.sort(() => Math.random() - 0.5);
      const res = {};
      for (const mode of order) {
        res[mode] = await measure(mode, `${modeLabel(mode)}-${r}`, op, dir, slowdown);
        if (r === 0 && mode === 'none') slowdown = res.none.wallMs / native;
        console.error(`round ${r + 1} ${mode}: ${res[mode].instructions.toFixed(0)} instructions/request${res[mode].intervalMs ? ` (interval ${res[mode].intervalMs} ms)` : ''}`);
      }
      rounds.push(res);
    }
    console.log(`\nPython agent overhead in instructions: ${opt.rounds} rounds × ${N} requests, concurrency ${C}, view of ${ORDERS} orders, gunicorn gthread 1 worker × 100 threads under callgrind, CPython ${pythonVersion()}`);
    console.log(`native wall ${native.toFixed(3)} ms/request; valgrind slowdown ${slowdown.toFixed(1)}× (sample intervals and SONDE_TIME_SCALE scaled by it)\n`);
    console.log('| mode | instructions/request (median) | added to no agent | ratio (median) | spread (min–max) |');
    console.log('| --- | --- | --- | --- | --- |');
    for (const m of modes) {
      const ratios = rounds.map((r) => r[m].instructions / r.none.instructions);
      const added = rounds.map((r) => r[m].instructions - r.none.instructions);
      console.log(`| ${m} | ${median(rounds.map((r) => r[m].instructions)).toFixed(0)} | ${median(added).toFixed(0)} | ${median(ratios).toFixed(4)} | ${Math.min(...ratios).toFixed(4)}–${Math.max(...ratios).toFixed(4)} |`);
    }
  } finally {
    op.child.kill('SIGTERM');
    if (!opt.keep) rmSync(dir, { recursive: true, force: true });
    if (baseDir) rmSync(baseDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
