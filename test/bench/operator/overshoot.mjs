#!/usr/bin/env node
// Overshoot of N (`npm run bench:operator:overshoot`; expects a build in dist/).
//
// How far past N a session's count goes, with 1, 3 and 6 agents taking requests at a fixed rate each:
//   1. the real operator (`sonde operator --standalone`) on loopback;
//   2. six processes of the demo's sample shop, each with the real Node agent (`--import`), labelled
//      so a selector picks the first 1, 3 or 6 of them (`upto1`, `upto3`, `upto6`);
//   3. open-loop traffic: RATE `GET /api/orders/:id` per second to every shop, whatever the answers;
//   4. per round and per agent count (the order rotates each round, so drift hits every count alike):
//      a session for N requests; once it is Completed and its count has stopped moving (late records
//      of requests taken before the stop), its final count, minus N, is the overshoot. The status's
//      count, its `progress` and the Complete condition's message must name the same number.
//
// Env: ROUNDS (default 5), RATE (per shop, default 50), N (default 200), SETTLE_MS (default 1500),
// SONDE_ROOT (the checkout whose dist/ runs; default this one), OP_LOG_LEVEL (the operator's log on stdout),
// COUNTS (agent counts to run, default 1,3,6; at most 6).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// SONDE_ROOT: another checkout's build (operator and agent both), to compare before and after a change.
const root = process.env.SONDE_ROOT ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const RATE = Number(process.env.RATE ?? 50);
const N = Number(process.env.N ?? 200);
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 1500);
const SHOPS = 6;
const COUNTS = (process.env.COUNTS ?? '1,3,6').split(',').map(Number).filter((k) => k >= 1 && k <= SHOPS);
const REQUEST = 'GET /api/orders/:id';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => {
  const s = sorted(xs);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

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
    await sleep(50);
  }
}

async function json(url, init) {
  const res = await fetch(url, init);
  const body = await res.json();
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
  return body;
}

function startShop(i, agentUrl) {
  const labels = ['app=bench', ...COUNTS.filter((k) => i < k).map((k) => `upto${k}=yes`)].join(',');
  const child = spawn(process.execPath, ['--import', join(root, 'dist/agent/register.js'), join(root, 'dist/operator/demo/sample-app.js')], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', SONDE_URL: agentUrl, POD_NAME: `shop-${i}`, POD_NAMESPACE: 'default', POD_UID: '', SONDE_LABELS: labels, SONDE_LOG_LEVEL: 'warn', NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c) => {
      out += c;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve({ child, base: `http://127.0.0.1:${m[1]}` });
    });
    child.once('exit', (code) => reject(new Error(`shop ${i} exited with ${code}`)));
  });
}

/** Open loop: a request every 1/RATE s to `base`, not waiting for answers (at most 64 in flight). */
function pace(base, stop) {
  let inFlight = 0;
  let next = performance.now();
  let i = 0;
  const tick = () => {
    if (stop.aborted) return;
    const now = performance.now();
    while (next <= now) {
      next += 1000 / RATE;
      if (inFlight >= 64) continue;
      inFlight++;
      fetch(`${base}/api/orders/${1000 + (i++ % 97)}`, { signal: AbortSignal.timeout(5000) })
        .then((r) => r.arrayBuffer())
        .catch(() => {})
        .finally(() => inFlight--);
    }
    setTimeout(tick, Math.max(0, next - performance.now()));
  };
  tick();
}

/** The number the Complete condition's message names (it starts with the count). */
function conditionCount(view) {
  const c = view.status.conditions.find((x) => x.type === 'Complete');
  const m = c && /^(\d+) requests profiled/.exec(c.message);
  return m ? Number(m[1]) : undefined;
}

async function runSession(base, k, round) {
  const name = `ov-${k}-${round}`;
  const t0 = performance.now();
  const created = await json(`${base}/api/v1/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, spec: { selector: { matchLabels: { [`upto${k}`]: 'yes' } }, request: REQUEST, requests: N, duration: '2m', sampleInterval: '10ms' } }),
  });
  // When every selected pod samples, and when the first request is stored: where the time goes.
  let allSampling;
  let firstStored;
  const done = await eventually(async () => {
    const v = await json(`${base}/api/v1/sessions/${created.id}`);
    if (allSampling === undefined && v.status.pods.length === k && v.status.pods.every((p) => p.state === 'Sampling')) allSampling = performance.now() - t0;
    if (firstStored === undefined && v.status.requestsProfiled > 0) firstStored = performance.now() - t0;
    return v.status.phase === 'Completed' || v.status.phase === 'Failed' ? v : undefined;
  }, 120_000, `session ${name}`);
  const ms = performance.now() - t0;
  // Records of requests taken before the stop may still arrive: wait until the count stops moving.
  let view = done;
  for (let quiet = 0; quiet < SETTLE_MS; quiet += 100) {
    await sleep(100);
    const v = await json(`${base}/api/v1/sessions/${created.id}`);
    if (v.status.requestsProfiled !== view.status.requestsProfiled) quiet = 0;
    view = v;
  }
  const count = view.status.requestsProfiled;
  const agree = view.status.progress === `${count}/${N}` && conditionCount(view) === count;
  return { k, round, phase: view.status.phase, count, over: count - N, ms, allSampling, firstStored, agree, pods: view.status.pods.map((p) => p.requests) };
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'sonde-bench-overshoot-'));
  const cleanups = [() => rmSync(work, { recursive: true, force: true })];
  const stop = new AbortController();
  try {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const op = spawn(process.execPath, [join(root, 'dist/operator/cli.js'), 'operator', '--standalone', '--port', String(port), '--host', '127.0.0.1', '--data', join(work, 'data'), '--log-level', process.env.OP_LOG_LEVEL ?? 'warn'], {
      stdio: ['ignore', process.env.OP_LOG_LEVEL ? 'inherit' : 'ignore', 'inherit'],
      env: { ...process.env, SONDE_TOKEN: '' },
    });
    cleanups.push(() => op.exitCode === null && op.kill('SIGKILL'));
    await eventually(() => fetch(`${base}/healthz`).then((r) => r.ok, () => false), 20_000, 'operator up');
    const shops = await Promise.all(Array.from({ length: SHOPS }, (_, i) => startShop(i, `ws://127.0.0.1:${port}/v1/agents`)));
    for (const s of shops) cleanups.push(() => s.child.exitCode === null && s.child.kill('SIGKILL'));
    for (const s of shops) pace(s.base, stop.signal);
    await eventually(async () => (await json(`${base}/api/v1/agents`)).items?.length >= SHOPS, 30_000, 'agents connected');
    await eventually(async () => (await json(`${base}/api/v1/request-types`)).items.some((t) => t.type === REQUEST), 30_000, 'type in the catalogue');
    console.log(`overshoot: N=${N}, ${RATE} req/s per agent, ${ROUNDS} rounds, node ${process.version}`);
    const results = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = COUNTS.map((_, j) => COUNTS[(j + round) % COUNTS.length]);
      for (const k of order) {
        const r = await runSession(base, k, round);
        results.push(r);
        console.log(`  round ${round} agents ${k}: ${r.phase} ${r.count}/${N} (+${r.over}) in ${r.ms.toFixed(0)} ms (all sampling ${r.allSampling?.toFixed(0) ?? '-'}, first stored ${r.firstStored?.toFixed(0) ?? '-'}), per pod ${r.pods.join('/')}${r.agree ? '' : '  STATUS DISAGREES'}`);
      }
    }
    console.log('agents  overshoot median [min–max]  time to N median (ms)');
    const summary = {};
    for (const k of COUNTS) {
      const rs = results.filter((r) => r.k === k);
      const over = rs.map((r) => r.over);
      summary[k] = { median: median(over), min: Math.min(...over), max: Math.max(...over), msMedian: Math.round(median(rs.map((r) => r.ms))) };
      console.log(`  ${k}     +${summary[k].median} [${summary[k].min}–${summary[k].max}]               ${summary[k].msMedian}`);
    }
    const disagree = results.filter((r) => !r.agree).length;
    console.log(JSON.stringify({ bench: 'overshoot', root, N, rate: RATE, rounds: ROUNDS, summary, disagree }));
    if (disagree > 0) process.exitCode = 1;
  } finally {
    stop.abort();
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch {
        /* leaving */
      }
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
