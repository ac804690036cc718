// Python agent overhead benchmark: `npm run bench:python [-- --rounds 5 --requests 2000 --concurrency 8]`.
//
// A Django view doing realistic ORM-free work (test/bench/python/bench_app.py) under gunicorn gthread,
// one worker with 100 threads configured, pinned to CPU 1 when `taskset` exists. Modes, in a fresh random
// order every round, each a fresh server: no agent / agent idle (injected, connected, no session) /
// sampling at 10 ms / at 1 ms (a real session from the real operator) / cProfile around each request
// (the anchor). Measured: the worker's CPU time (utime+stime of every thread, /proc/PID/stat) per
// request over a closed-loop window, as a ratio to the same round's "no agent". Prints medians and the
// spread (min–max of the per-round ratios), ready for docs/BENCHMARKS.md.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HERE = fileURLToPath(new URL('.', import.meta.url));
const PYTHON = '/usr/bin/python3';
const BUNDLE = join(ROOT, 'dist/agent-bundle/python');
const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    requests: { type: 'string', default: '2000' },
    warm: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '8' },
    // none2 is a second server without the agent: an A/A control, the spread two identical servers show.
    modes: { type: 'string', default: 'none,none2,idle,sample10,sample1,cprofile' },
  },
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const TICK_S = 1 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);
const hasTaskset = spawnSync('taskset', ['--version']).status === 0;

function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_S;
}

async function until(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {}
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function json(url, init) {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function get(port, path) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
  });
}

async function drive(port, total, concurrency) {
  let next = 0;
  const loop = async () => {
    while (next < total) await get(port, `/work/${next++ % 1000}`);
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
}

async function startOperator(dir) {
  const child = spawn(process.execPath, [join(ROOT, 'dist/operator/cli.js'), 'operator', '--standalone', '--port', '0', '--host', '127.0.0.1', '--data', join(dir, 'data'), '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const port = await until(() => /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1], 20_000, 'operator port');
  const url = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${url}/healthz`)).ok, 20_000, 'operator health');
  return { child, url, agentUrl: `ws://127.0.0.1:${port}/v1/agents` };
}

async function startServer(mode, label, op) {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, PYTHONDONTWRITEBYTECODE: '1' };
  if (mode !== 'none' && mode !== 'none2' && mode !== 'cprofile') Object.assign(env, { PYTHONPATH: BUNDLE, SONDE_URL: op.agentUrl, SONDE_LABELS: `bench=${label}`, POD_NAME: label, SONDE_LOG_LEVEL: 'warn' });
  if (mode === 'cprofile') env.BENCH_CPROFILE = '1';
  const args = ['-m', 'gunicorn', '-w', '1', '-k', 'gthread', '--threads', '100', '-b', '127.0.0.1:0', '--chdir', HERE, 'bench_app:application'];
  const child = hasTaskset ? spawn('taskset', ['-c', '1', PYTHON, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(PYTHON, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const port = Number(await until(() => /Listening at: http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1], 30_000, `${label} listening`));
  const worker = Number(await until(() => /Booting worker with pid: (\d+)/.exec(out)?.[1], 30_000, `${label} worker`));
  return { child, port, worker, out: () => out };
}

async function round(modes, op, r) {
  const result = {};
  for (const mode of modes) {
    const label = `${mode}-${r}`;
    const s = await startServer(mode, label, op);
    try {
      await drive(s.port, Number(opt.warm), Number(opt.concurrency));
      if (mode.startsWith('sample')) {
        const interval = mode === 'sample10' ? '10ms' : '1ms';
        await until(async () => (await json(`${op.url}/api/v1/agents`)).items.some((a) => a.pod.name === label), 20_000, `${label} connected`);
        const session = await json(`${op.url}/api/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: label, spec: { selector: { matchLabels: { bench: label } }, request: 'GET /work/:id', requests: 10000, duration: '10m', sampleInterval: interval } }) });
        await until(async () => (await json(`${op.url}/api/v1/sessions/${session.id}`)).status.pods?.some((p) => p.state === 'Sampling'), 20_000, `${label} sampling`);
        await sleep(300);
      }
      const before = cpuSeconds(s.worker);
      const t0 = performance.now();
      await drive(s.port, Number(opt.requests), Number(opt.concurrency));
      const wall = (performance.now() - t0) / 1000;
      const cpu = cpuSeconds(s.worker) - before;
      result[mode] = { cpuUsPerRequest: (cpu * 1e6) / Number(opt.requests), rps: Number(opt.requests) / wall };
    } finally {
      s.child.kill('SIGTERM');
      await new Promise((r) => (s.child.exitCode !== null ? r() : s.child.once('exit', r)));
    }
  }
  return result;
}

async function main() {
  if (!existsSync(join(BUNDLE, 'sitecustomize.py'))) throw new Error('dist/agent-bundle/python is missing: run `npm run build`');
  const dir = mkdtempSync(join(tmpdir(), 'sonde-bench-py-'));
  const op = await startOperator(dir);
  const modes = opt.modes.split(',');
  const rounds = [];
  try {
    for (let r = 0; r < Number(opt.rounds); r++) {
      const order = [...modes].sort(() => Math.random() - 0.5);
      const res = await round(order, op, r);
      rounds.push(res);
      console.error(`round ${r + 1}: ${modes.map((m) => `${m} ${res[m].cpuUsPerRequest.toFixed(0)} µs`).join(', ')}`);
    }
  } finally {
    op.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\nPython agent overhead: ${opt.rounds} rounds × ${opt.requests} requests, concurrency ${opt.concurrency}, gunicorn gthread 1 worker × 100 threads${hasTaskset ? ', pinned to CPU 1' : ''}, CPython ${spawnSync(PYTHON, ['-c', 'import platform; print(platform.python_version())'], { encoding: 'utf8' }).stdout.trim()}\n`);
  console.log('| mode | CPU µs/request (median) | ratio to no agent (median) | spread (min–max) |');
  console.log('| --- | --- | --- | --- |');
  for (const m of modes) {
    const ratios = rounds.map((r) => r[m].cpuUsPerRequest / r.none.cpuUsPerRequest);
    console.log(`| ${m} | ${median(rounds.map((r) => r[m].cpuUsPerRequest)).toFixed(0)} | ${median(ratios).toFixed(3)} | ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)} |`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
