// The longest stall of an app's event loop when a profiling session starts on it, with the app's hot
// code in a ~600 KiB bundle: the interrupt sampler's first collects meet that file and need its function
// index (agent/sampler/function-starts.ts). Before: acorn parsed it on the app's thread. After: in the
// agent's worker. Each round starts, for each bundle given (interleaved), a fresh app under
// `--require BUNDLE/preload.cjs`, serves requests for 1 s without a session (baseline), then starts a
// session and serves for 3 s; the app itself measures the largest gap between turns of a 1 ms timer and
// `monitorEventLoopDelay`'s max in each phase. Medians and spreads over the rounds.
// Run: npm run build && node test/bench/agent/function-start-stall.mjs [rounds] [NAME=BUNDLE_DIR ...]
// (default: this tree's dist/agent-bundle/node as "worker"; give the pre-worker bundle to compare,
// e.g. `main-thread=/tmp/old-bundle`).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startOperator } from './mini-operator.mjs';
import { sleep } from './stats.mjs';

const rounds = Number(process.argv[2] ?? 5);
const given = process.argv.slice(3).map((a) => { const [name, d] = a.split('='); return [name, resolve(d)]; });
const bundles = given.length > 0 ? given : [['worker', fileURLToPath(new URL('../../../dist/agent-bundle/node', import.meta.url))]];

const dir = mkdtempSync(join(tmpdir(), 'sonde-stall-'));
// The app: ~600 KiB of bundled modules (classes, arrows, closures, as esbuild writes them), the hot
// handler in the middle of it, a server, and its own stall meters.
const parts = [];
for (let k = 0, size = 0; size < 600 * 1024; k++) {
  const part = `function mod${k}(exports) {\n  class C${k} { get v() { return ${k}; } run(a) { return [a, ${k}].map((x) => x * 2).filter(function (y) { return y > ${k % 7}; }); } }\n  exports.f${k} = (o) => new C${k}().run(o.n + ${k});\n}\n`;
  parts.push(part);
  size += part.length;
  if (k === 1500) parts.push('function hot(n) {\n  let h = 0;\n  for (let i = 0; i < n; i++) h = (Math.imul(h ^ i, 2654435761) + (i % 7)) | 0;\n  return h;\n}\n');
}
parts.push(`
const { createServer } = require('node:http');
const { monitorEventLoopDelay } = require('node:perf_hooks');
let maxGap = 0;
let last = performance.now();
setInterval(() => { const now = performance.now(); maxGap = Math.max(maxGap, now - last); last = now; }, 1);
const eld = monitorEventLoopDelay({ resolution: 1 });
eld.enable();
createServer((req, res) => {
  if (req.url.startsWith('/work/')) { const h = hot(200000); res.end(String(h)); return; }
  if (req.url === '/stall') { res.end(JSON.stringify({ maxGapMs: maxGap, eldMaxMs: eld.max / 1e6 })); maxGap = 0; last = performance.now(); eld.reset(); return; }
  res.statusCode = 404; res.end();
}).listen(0, '127.0.0.1', function () { console.log('listening ' + this.address().port); });
`);
const app = join(dir, 'app.cjs');
writeFileSync(app, parts.join(''));

const get = (port, path) =>
  new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    });
    r.on('error', reject);
    r.end();
  });
async function drive(port, ms) {
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) await get(port, `/work/${n++}`);
  return n;
}

const results = Object.fromEntries(bundles.map(([name]) => [name, { baseGap: [], gap: [], eld: [], baseEld: [] }]));
for (let r = 0; r < rounds; r++) {
  for (const [name, bundle] of bundles) {
    const op = await startOperator();
    const pod = `stall-${name}-${r}`;
    const child = spawn(process.execPath, ['--require', join(bundle, 'preload.cjs'), app], {
      env: { PATH: process.env.PATH, SONDE_URL: op.url, POD_NAME: pod, POD_NAMESPACE: 'bench', SONDE_SAMPLER: 'interrupt', SONDE_LOG_LEVEL: process.env.SONDE_BENCH_AGENT_LOG ?? 'error' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const port = await new Promise((resolve) => {
      let out = '';
      child.stdout.on('data', (c) => {
        out += c;
        const m = /listening (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
    });
    while (!op.agents.get(pod)) await sleep(20);
    await drive(port, 300);
    await get(port, '/stall');
    await drive(port, 1000);
    const base = JSON.parse(await get(port, '/stall'));
    op.agents.get(pod).startSession({ session: `s-${pod}`, request: 'GET /work/:id', maxRequests: 10_000, sampleIntervalMs: 1, deadlineMs: 60_000 });
    await drive(port, 3000);
    const during = JSON.parse(await get(port, '/stall'));
    const res = results[name];
    res.baseGap.push(base.maxGapMs);
    res.baseEld.push(base.eldMaxMs);
    res.gap.push(during.maxGapMs);
    res.eld.push(during.eldMaxMs);
    const records = op.agents.get(pod).records;
    child.kill('SIGKILL');
    op.close();
    console.log(`round ${r} ${name}: longest gap ${base.maxGapMs.toFixed(1)} ms without a session, ${during.maxGapMs.toFixed(1)} ms in the session's first 3 s (eventLoopDelay max ${during.eldMaxMs.toFixed(1)} ms), ${records} records`);
  }
}
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const span = (xs) => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;
console.log(`app bundle ${(statSync(app).size / 1024).toFixed(0)} KiB, ${rounds} interleaved rounds, interrupt sampler at 1 ms`);
for (const [name] of bundles) {
  const x = results[name];
  console.log(`${name}: longest event-loop gap when the session starts: median ${med(x.gap).toFixed(1)} ms (${span(x.gap)}); eventLoopDelay max ${med(x.eld).toFixed(1)} ms (${span(x.eld)}); before the session ${med(x.baseGap).toFixed(1)} ms (${span(x.baseGap)})`);
}
rmSync(dir, { recursive: true, force: true });
