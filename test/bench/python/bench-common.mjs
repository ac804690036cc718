// What the Python agent's benchmarks share (run.mjs: CPU time; instructions.mjs: instruction counts): the
// real standalone operator, a gunicorn gthread server of bench_app.py with or without the injected agent,
// a closed-loop HTTP driver, and a real session started through the REST API.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const HERE = fileURLToPath(new URL('.', import.meta.url));
export const PYTHON = '/usr/bin/python3';
export const BUNDLE = join(ROOT, 'dist/agent-bundle/python');
export const hasTaskset = spawnSync('taskset', ['--version']).status === 0;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The median of a list of numbers. */
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Polls `fn` every 100 ms until it returns something truthy, or throws after `ms`. */
export async function until(fn, ms, what) {
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

/** A JSON request to the operator's REST API; throws on a non-2xx answer. */
export async function json(url, init) {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** One GET on a kept-alive connection; rejects unless the answer is 200. */
export function get(port, path) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: keepAlive }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
  });
}

/** `total` requests of the benchmark's view from `concurrency` closed-loop clients. */
export async function drive(port, total, concurrency) {
  let next = 0;
  const loop = async () => {
    while (next < total) await get(port, `/work/${next++ % 1000}`);
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
}

/** `total` requests of the benchmark's view at `rate` a second, each sent on time whether or not the
 * ones before have been answered (an open loop: a service with light traffic, where what the agent does
 * per second, not per request, shows). */
export async function pace(port, total, rate) {
  const t0 = performance.now();
  const sent = [];
  for (let i = 0; i < total; i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    sent.push(get(port, `/work/${i % 1000}`));
  }
  await Promise.all(sent);
}

/** The real operator, standalone, on a loopback port. */
export async function startOperator(dir) {
  const child = spawn(process.execPath, [join(ROOT, 'dist/operator/cli.js'), 'operator', '--standalone', '--port', '0', '--host', '127.0.0.1', '--data', join(dir, 'data'), '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const port = await until(() => /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1], 20_000, 'operator port');
  const url = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${url}/healthz`)).ok, 20_000, 'operator health');
  return { child, url, agentUrl: `ws://127.0.0.1:${port}/v1/agents` };
}

let baselineBundle = null;

/** `--baseline REV` of both benches: the Python agent as it was at git revision REV (its files from `git
 * archive`, this build's vendored websocket-client), for the modes named `MODE@baseline`, measured in the
 * same rounds as this build's. Returns the directory to remove at the end. */
export function prepareBaseline(rev) {
  if (!/^[\w./~^-]{1,100}$/.test(rev) || rev.startsWith('-')) throw new Error(`--baseline must be a git revision, not ${JSON.stringify(rev.slice(0, 40))}`);
  const dir = mkdtempSync(join(tmpdir(), 'sonde-bench-py-base-'));
  const archive = spawnSync('git', ['-C', ROOT, 'archive', rev, 'agent/python'], { maxBuffer: 256 << 20 });
  if (archive.status !== 0) throw new Error(`git archive ${rev}: ${archive.stderr}`);
  const untar = spawnSync('tar', ['-x', '-C', dir], { input: archive.stdout });
  if (untar.status !== 0) throw new Error(`tar: ${untar.stderr}`);
  baselineBundle = join(dir, 'agent/python');
  cpSync(join(BUNDLE, 'sonde_agent/_vendor'), join(baselineBundle, 'sonde_agent/_vendor'), { recursive: true });
  return dir;
}

/** The modes to run: `list`, and with a baseline, `MODE@baseline` after each mode with an agent. A name
 * that is none of the modes (a typo would otherwise run as an idle agent) is an error. */
export function withBaseline(list, baseline) {
  for (const m of list) {
    if (!AGENTLESS.has(m) && m !== 'idle' && !sessionOf(m)) throw new Error(`unknown mode ${m}: none, none2, cprofile, idle, sampleN or nomatchN (N ms, 1–1000)`);
  }
  if (!baseline) return list;
  return list.flatMap((m) => (AGENTLESS.has(m) ? [m] : [m, `${m}@baseline`]));
}

const AGENTLESS = new Set(['none', 'none2', 'cprofile']);

/** The session a mode runs, or null: `sampleN` samples the benchmarked type every N ms; `nomatchN` runs an
 * N ms session on a type no request has (the agent connected and a session running, nothing followed);
 * `sample1000` follows and records every request but ticks once a second, so against `sample10` it tells
 * following a request from the ticks. */
export function sessionOf(mode) {
  const m = /^(sample|nomatch)(\d+)(?:@\w+)?$/.exec(mode);
  if (!m) return null;
  const intervalMs = Number(m[2]);
  if (!(intervalMs >= 1 && intervalMs <= 1000)) throw new Error(`${mode}: the interval must be 1 to 1000 ms`);
  return { intervalMs, request: m[1] === 'sample' ? 'GET /work/:id' : 'GET /nothing/:id' };
}

/** A mode's name in labels (pod names, label values): `@` is not allowed there. */
export const modeLabel = (mode) => mode.replace('@', '-');

/** The environment of a server in `mode` (none/none2: no agent; cprofile: the anchor; else the injected
 * agent, this build's or, for `MODE@baseline`, the baseline's). */
export function serverEnv(mode, label, op) {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, PYTHONDONTWRITEBYTECODE: '1' };
  const baseline = mode.endsWith('@baseline');
  if (baseline && !baselineBundle) throw new Error(`${mode}: no --baseline given`);
  mode = mode.replace(/@baseline$/, '');
  if (!AGENTLESS.has(mode)) Object.assign(env, { PYTHONPATH: baseline ? baselineBundle : BUNDLE, SONDE_URL: op.agentUrl, SONDE_LABELS: `bench=${label}`, POD_NAME: label, SONDE_LOG_LEVEL: 'warn' });
  if (mode === 'cprofile') env.BENCH_CPROFILE = '1';
  return env;
}

/** gunicorn gthread, one worker × 100 threads, serving bench_app.py; `wrap` is a command prefix (taskset, valgrind); `extraEnv` adds to the environment. */
export async function startServer(mode, label, op, wrap = [], timeoutMs = 30_000, extraEnv = {}) {
  const args = [...wrap, PYTHON, '-m', 'gunicorn', '-w', '1', '-k', 'gthread', '--threads', '100', '-b', '127.0.0.1:0', '--timeout', '600', '--chdir', HERE, 'bench_app:application'];
  const child = spawn(args[0], args.slice(1), { env: { ...serverEnv(mode, label, op), ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const port = Number(await until(() => /Listening at: http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1], timeoutMs, `${label} listening`));
  const worker = Number(await until(() => /Booting worker with pid: (\d+)/.exec(out)?.[1], timeoutMs, `${label} worker`));
  return { child, port, worker, out: () => out };
}

/** Stops a server started by `startServer` and waits for it to exit. */
export async function stopServer(s) {
  s.child.kill('SIGTERM');
  await new Promise((r) => (s.child.exitCode !== null ? r() : s.child.once('exit', r)));
}

/** Starts a real session on the server's pod (labelled `bench=<label>`) for `request` and waits until its agent samples. */
export async function startSession(op, label, intervalMs, request = 'GET /work/:id') {
  await until(async () => (await json(`${op.url}/api/v1/agents`)).items.some((a) => a.pod.name === label), 60_000, `${label} connected`);
  const session = await json(`${op.url}/api/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: label, spec: { selector: { matchLabels: { bench: label } }, request, requests: 10000, duration: '10m', sampleInterval: `${intervalMs}ms` } }) });
  await until(async () => (await json(`${op.url}/api/v1/sessions/${session.id}`)).status.pods?.some((p) => p.state === 'Sampling'), 60_000, `${label} sampling`);
  return session;
}

/** The CPython version the benchmarks run. */
export const pythonVersion = () => spawnSync(PYTHON, ['-c', 'import platform; print(platform.python_version())'], { encoding: 'utf8' }).stdout.trim();

/** `--orders N` of run.mjs and instructions.mjs: how many orders the bench view builds (its work), 1..100000. */
export function ordersOption(raw) {
  if (!/^\d{1,6}$/.test(raw) || Number(raw) < 1 || Number(raw) > 100_000) throw new Error(`--orders must be an integer 1..100000, not ${JSON.stringify(String(raw).slice(0, 40))}`);
  return Number(raw);
}
