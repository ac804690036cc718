#!/usr/bin/env node
// Operator scale benchmark (`npm run bench:operator`; expects a build in dist/).
//
//   1. a standalone operator process (the real `sonde operator --standalone`);
//   2. 10,000 simulated agents in 4 child processes (light WebSocket clients, raw `ws`):
//      operator RSS idle and with every agent connected → RSS per agent;
//   3. fan-out: sessions selecting all 10,000 agents, created one after another; for each, the time
//      from the POST to every agent holding `start` (p50, p99, max), over several rounds;
//   4. merge: 1,000 pods each report one request with a 5,000-node tree; the session completes; then
//      the merged tree's query latency over the REST API (whole session, one pod, hotspots), and the
//      merge of those 1,000 trees in-process (as the operator meets them: parsed from JSON);
//   5. measured vs target, and a JSON line for the record.
//
// Env: AGENTS (default 10000), WORKERS (4), ROUNDS (5), PODS (1000), NODES (5000).
import { spawn, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const AGENTS = Number(process.env.AGENTS ?? 10_000);
const WORKERS = Number(process.env.WORKERS ?? 4);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const PODS = Number(process.env.PODS ?? 1000);
const NODES = Number(process.env.NODES ?? 5000);
const TARGET = { rssMiB: 512, fanoutP99Ms: 1000, mergeMs: 2000, queryMs: 200 };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] : NaN;
};
const median = (xs) => pct(xs, 0.5);
const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const log = (...a) => console.log(...a);

function rssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function eventually(fn, timeoutMs, what) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out: ${what}`);
    await sleep(100);
  }
}

async function api(base, path, init) {
  const res = await fetch(base + path, init);
  const text = await res.text();
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return text;
}

async function timed(fn) {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'sonde-bench-op-'));
  const cleanups = [() => rmSync(work, { recursive: true, force: true })];
  try {
    // Bundle the TypeScript helpers (the workers and the tree generator) once.
    const out = join(work, 'js');
    await build({
      entryPoints: { 'agent-worker': join(root, 'test/bench/operator/agent-worker.ts'), trees: join(root, 'test/bench/operator/trees.ts') },
      outdir: out,
      bundle: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      outExtension: { '.js': '.mjs' },
      logLevel: 'warning',
      absWorkingDir: root,
    });
    // Bundles in a temp dir resolve `ws` from the project's node_modules through NODE_PATH-free symlink.
    const { symlinkSync } = await import('node:fs');
    symlinkSync(join(root, 'node_modules'), join(work, 'node_modules'));
    const { podTrees, timeMerge } = await import(join(out, 'trees.mjs'));

    log(`generating ${PODS} pod trees of ${NODES} nodes…`);
    const trees = podTrees(PODS, NODES);
    const wire = trees.map((t) => JSON.stringify(t));
    const perWorkerPods = Math.ceil(PODS / WORKERS);
    const treeFiles = [];
    for (let w = 0; w < WORKERS; w++) {
      const file = join(work, `trees-${w}.json`);
      writeFileSync(file, `[${wire.slice(w * perWorkerPods, (w + 1) * perWorkerPods).join(',')}]`);
      treeFiles.push(file);
    }

    // The operator: the real CLI, standalone, on loopback.
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const op = spawn(process.execPath, [join(root, 'dist/operator/cli.js'), 'operator', '--standalone', '--port', String(port), '--data', join(work, 'data'), '--log-level', 'warn'], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, SONDE_TOKEN: '' },
    });
    cleanups.push(() => op.exitCode === null && op.kill('SIGKILL'));
    await eventually(async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.ok, 20_000, 'operator ready');
    await sleep(1000);
    const idle = rssMiB(op.pid);
    log(`operator pid ${op.pid} ready; RSS idle ${fmt(idle.rss)} MiB`);

    // Simulated agents.
    const workers = [];
    for (let w = 0; w < WORKERS; w++) {
      const child = fork(join(out, 'agent-worker.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      cleanups.push(() => child.exitCode === null && child.kill('SIGKILL'));
      const inbox = [];
      const waiters = [];
      child.on('message', (m) => {
        inbox.push(m);
        for (const w of waiters.splice(0)) w();
      });
      const next = async (event) => {
        for (;;) {
          const i = inbox.findIndex((m) => m.event === event);
          if (i >= 0) return inbox.splice(i, 1)[0];
          await new Promise((r) => waiters.push(r));
        }
      };
      await next('ready');
      workers.push({ child, next, send: (m) => child.send(m) });
    }
    const perWorker = Math.ceil(AGENTS / WORKERS);
    const t0 = Date.now();
    workers.forEach((w, i) => w.send({ cmd: 'connect', url: `ws://127.0.0.1:${port}/v1/agents`, count: Math.min(perWorker, AGENTS - i * perWorker), offset: i * perWorker, namespace: 'bench', concurrency: 64 }));
    const connected = await Promise.all(workers.map((w) => w.next('connected')));
    const ok = connected.reduce((s, c) => s + c.ok, 0);
    const failed = connected.reduce((s, c) => s + c.failed, 0);
    log(`${ok} agents connected in ${((Date.now() - t0) / 1000).toFixed(1)} s (${failed} failed)`);
    await eventually(async () => /^sonde_agents_connected (\d+)$/m.exec(await api(base, '/metrics'))?.[1] === String(ok), 30_000, 'operator sees every agent');
    await sleep(5000);
    const loaded = rssMiB(op.pid);
    const perAgentKiB = ((loaded.rss - idle.rss) * 1024) / ok;
    log(`RSS with ${ok} agents: ${fmt(loaded.rss)} MiB (${fmt(perAgentKiB, 1)} KiB per agent)`);

    // Fan-out rounds.
    const p50s = [];
    const p99s = [];
    const maxes = [];
    for (let r = 0; r < ROUNDS; r++) {
      const body = JSON.stringify({ name: `fanout-${r}`, namespace: 'bench', spec: { selector: { matchLabels: { app: 'bench' } }, request: 'GET /fanout', requests: 10_000, duration: '10m' } });
      const created = Date.now();
      const view = JSON.parse(await api(base, '/api/v1/sessions', { method: 'POST', headers: { 'content-type': 'application/json' }, body }));
      let times = [];
      await eventually(async () => {
        const replies = await Promise.all(workers.map((w) => (w.send({ cmd: 'times', session: view.id }), w.next('times'))));
        times = replies.flatMap((x) => x.times);
        return replies.every((x) => x.missing === 0) || undefined;
      }, 30_000, `every agent holds start of round ${r}`);
      const lat = times.map((t) => t - created);
      p50s.push(pct(lat, 0.5));
      p99s.push(pct(lat, 0.99));
      maxes.push(Math.max(...lat));
      log(`fan-out round ${r + 1}: ${lat.length} agents, p50 ${fmt(p50s.at(-1))} ms, p99 ${fmt(p99s.at(-1))} ms, max ${fmt(maxes.at(-1))} ms`);
      await api(base, `/api/v1/sessions/${view.id}`, { method: 'DELETE' });
      await sleep(1500);
    }
    const afterFanout = rssMiB(op.pid);

    // Merge: PODS pods report one 5,000-node request each.
    const mergeBody = JSON.stringify({ name: 'merge', namespace: 'bench', spec: { selector: { matchLabels: { app: 'bench' } }, request: 'GET /bench', requests: PODS, duration: '10m' } });
    const session = JSON.parse(await api(base, '/api/v1/sessions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: mergeBody }));
    await eventually(async () => {
      const replies = await Promise.all(workers.map((w) => (w.send({ cmd: 'times', session: session.id }), w.next('times'))));
      return replies.every((x) => x.missing === 0) || undefined;
    }, 30_000, 'merge session started everywhere');
    const ingestStart = Date.now();
    workers.forEach((w, i) => w.send({ cmd: 'report', session: session.id, count: Math.min(perWorkerPods, PODS - i * perWorkerPods), treesFile: treeFiles[i] }));
    await Promise.all(workers.map((w) => w.next('reported')));
    const done = await eventually(async () => {
      const v = JSON.parse(await api(base, `/api/v1/sessions/${session.id}`));
      return v.status.phase === 'Completed' ? v : undefined;
    }, 300_000, 'merge session completed');
    const ingestMs = Date.now() - ingestStart;
    log(`${done.status.requestsProfiled} requests of ${NODES}-node trees stored and the session completed in ${fmt(ingestMs / 1000, 1)} s (top hotspot ${done.status.hotspots[0]?.frame})`);
    const afterMerge = rssMiB(op.pid);

    // Queries against the merged tree of PODS pods; the first one may fold what the status did not yet.
    const first = await timed(() => api(base, `/api/v1/sessions/${session.id}/tree`));
    const firstTypical = await timed(() => api(base, `/api/v1/sessions/${session.id}/tree?split=typical`));
    // Each kind in its own block (the d3 export allocates a lot; interleaving would charge its GC to the others).
    await sleep(2000);
    const q = { tree: [], pod: [], hotspots: [], d3: [] };
    const QUERIES = 60;
    for (let i = 0; i < QUERIES; i++) q.tree.push(await timed(() => api(base, `/api/v1/sessions/${session.id}/tree`)));
    for (let i = 0; i < QUERIES; i++) q.pod.push(await timed(() => api(base, `/api/v1/sessions/${session.id}/tree?pod=bench-${i * 7}`)));
    for (let i = 0; i < QUERIES; i++) q.hotspots.push(await timed(() => api(base, `/api/v1/hotspots?namespace=bench&limit=50`)));
    for (let i = 0; i < 10; i++) q.d3.push(await timed(() => api(base, `/api/v1/sessions/${session.id}/tree?format=d3`)));
    const treeJson = JSON.parse(await api(base, `/api/v1/sessions/${session.id}/tree`));
    const mergedNodes = treeJson.tree.nodes.length / 5 + 1;
    log(`merged tree: ${mergedNodes} nodes; first query ${fmt(first)} ms, first split=typical (fresh merge of ~half) ${fmt(firstTypical)} ms`);
    for (const [k, xs] of Object.entries(q)) {
      const slow = [...xs].sort((a, b) => b - a).slice(0, 3);
      log(`query ${k}: p50 ${fmt(median(xs), 1)} ms, p95 ${fmt(pct(xs, 0.95), 1)} ms, max ${fmt(Math.max(...xs), 1)} ms (slowest ${slow.map((x) => fmt(x)).join(', ')} at positions ${slow.map((x) => xs.indexOf(x)).join(', ')})`);
    }

    // Stop the processes before the CPU-bound in-process merge, so it has the machine.
    for (const w of workers) w.send({ cmd: 'close' });
    await sleep(500);
    op.kill('SIGTERM');
    await new Promise((r) => (op.exitCode !== null ? r() : op.once('exit', r)));

    const merges = [];
    const parses = [];
    let nodes = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const m = timeMerge(wire);
      merges.push(m.mergeMs);
      parses.push(m.parseMs);
      nodes = m.nodes;
    }
    log(`in-process merge of ${PODS} trees (${NODES} nodes each, parsed from JSON) → ${nodes} nodes: median ${fmt(median(merges))} ms (${fmt(Math.min(...merges))}–${fmt(Math.max(...merges))}); parse+check ${fmt(median(parses))} ms`);

    const rows = [
      ['operator RSS with agents', `${fmt(loaded.rss)} MiB for ${ok} agents (${fmt(perAgentKiB, 1)} KiB/agent; idle ${fmt(idle.rss)} MiB)`, `≤ ${TARGET.rssMiB} MiB`, loaded.rss <= TARGET.rssMiB],
      ['fan-out p50 (median of rounds)', `${fmt(median(p50s))} ms (rounds ${p50s.map((x) => fmt(x)).join(', ')})`, '', true],
      ['fan-out p99 (median of rounds)', `${fmt(median(p99s))} ms (rounds ${p99s.map((x) => fmt(x)).join(', ')}; worst max ${fmt(Math.max(...maxes))} ms)`, `≤ ${TARGET.fanoutP99Ms} ms`, median(p99s) <= TARGET.fanoutP99Ms],
      ['merge 1,000 × 5,000-node trees', `${fmt(median(merges))} ms (${fmt(Math.min(...merges))}–${fmt(Math.max(...merges))})`, `≤ ${TARGET.mergeMs} ms`, median(merges) <= TARGET.mergeMs],
      ['merged-tree query p50 / p95 / max', `${fmt(median(q.tree), 1)} / ${fmt(pct(q.tree, 0.95), 1)} / ${fmt(Math.max(...q.tree), 1)} ms (${mergedNodes} nodes)`, `≤ ${TARGET.queryMs} ms`, pct(q.tree, 0.95) <= TARGET.queryMs],
      ['one pod\'s tree p50 / p95 / max', `${fmt(median(q.pod), 1)} / ${fmt(pct(q.pod, 0.95), 1)} / ${fmt(Math.max(...q.pod), 1)} ms`, `≤ ${TARGET.queryMs} ms`, pct(q.pod, 0.95) <= TARGET.queryMs],
      ['hotspots p50 / p95 / max', `${fmt(median(q.hotspots), 1)} / ${fmt(pct(q.hotspots, 0.95), 1)} / ${fmt(Math.max(...q.hotspots), 1)} ms`, `≤ ${TARGET.queryMs} ms`, pct(q.hotspots, 0.95) <= TARGET.queryMs],
      ['d3 export of the merged tree p50', `${fmt(median(q.d3), 1)} ms (a download, not a query)`, '', true],
      ['RSS peak (after merge phase)', `${fmt(afterMerge.hwm)} MiB (after fan-out ${fmt(afterFanout.rss)} MiB)`, '', true],
    ];
    log('\n| measure | measured | target | |\n| --- | --- | --- | --- |');
    for (const [what, measured, target, pass] of rows) log(`| ${what} | ${measured} | ${target} | ${target ? (pass ? 'ok' : 'MISSED') : ''} |`);
    log(
      '\n' +
        JSON.stringify({
          agents: ok,
          rssIdleMiB: idle.rss,
          rssLoadedMiB: loaded.rss,
          perAgentKiB,
          fanout: { p50s, p99s, maxes },
          ingestMs,
          mergedNodes,
          mergeMs: merges,
          query: Object.fromEntries(Object.entries(q).map(([k, xs]) => [k, { p50: median(xs), p95: pct(xs, 0.95), max: Math.max(...xs) }])),
          rssPeakMiB: afterMerge.hwm,
          node: process.version,
        }),
    );
  } finally {
    for (const fn of cleanups.reverse()) {
      try {
        fn();
      } catch {
        /* leaving anyway */
      }
    }
  }
}

// 10,000 sockets in one process and 2,500 in each worker: make sure the limit allows it.
function checkFdLimit() {
  try {
    const soft = Number(readFileSync('/proc/self/limits', 'utf8').match(/Max open files\s+(\d+)/)?.[1]);
    if (soft && soft < AGENTS + 1000) {
      console.error(`open-file limit ${soft} is below ${AGENTS + 1000}; re-running under \`ulimit -n ${AGENTS + 2000}\``);
      const child = spawn('bash', ['-c', `ulimit -n ${AGENTS + 2000} && exec "$0" "$@"`, process.execPath, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, SONDE_BENCH_FD_RAISED: '1' } });
      child.on('exit', (code) => process.exit(code ?? 1));
      return false;
    }
  } catch {
    /* not Linux: try anyway */
  }
  return true;
}

if (process.env.SONDE_BENCH_FD_RAISED || checkFdLimit()) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
