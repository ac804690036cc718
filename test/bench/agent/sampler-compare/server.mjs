// A two-route server for comparing sampler candidates (see docs/adr/0001-node-sampler.md).
// argv: mode = none | dd | inspector, intervalUs. Talks to the parent over IPC.
import http from 'node:http';
import { createHook, executionAsyncResource } from 'node:async_hooks';
import { createRequire } from 'node:module';
import inspector from 'node:inspector';

const require = createRequire(import.meta.url);
const [mode, intervalArg, workArg] = process.argv.slice(2);
const WORK = Number(workArg ?? 1);
const intervalUs = Number(intervalArg ?? 10000);
const BURSTS = 3;

// Two hot functions, each large enough that V8 does not inline it into the handler.
function hotA(n) {
  let x = 0;
  for (let i = 0; i < n; i++) { x += Math.sqrt(i) * 1.0001; if ((i & 1023) === 0) x = x % 1e6; }
  for (let i = 0; i < n / 4; i++) { x ^= (i * 2654435761) >>> 3; x = (x + i) | 0; }
  const parts = []; for (let i = 0; i < 8; i++) parts.push(String(x + i).slice(-3));
  return x + parts.join('').length;
}
function hotB(n) {
  let y = 1;
  for (let i = 0; i < n; i++) { y = (y * 16807) % 2147483647; if ((i & 2047) === 0) y += 7; }
  for (let i = 0; i < n / 4; i++) { y += Math.cos(i) > 0 ? 1 : 2; }
  const q = []; for (let i = 0; i < 8; i++) q.push(y.toString(16).slice(0, 4));
  return y + q.join('').length;
}
const tick = () => new Promise((r) => setTimeout(r, 1));
async function handleA(req, res) { let s = 0; for (let i = 0; i < BURSTS; i++) { s += hotA(350000 * WORK); await tick(); } res.end(String(s)); }
async function handleB(req, res) { let s = 0; for (let i = 0; i < BURSTS; i++) { s += hotB(50000 * WORK); await tick(); } res.end(String(s)); }

// ---- context plumbing per candidate ----
let nextId = 1;
const ctxType = new Map(); // id -> 'A' | 'B'
// Both candidates propagate contexts the same way when AsyncContextFrame is absent (as the agent does):
// init stamps new async resources with the current context, before makes a resource's context current.
const CTX = Symbol('ctx');
let current;
const propagation = (onSwitch) =>
  createHook({
    init(_id, _type, _trigger, resource) {
      if (current !== undefined) resource[CTX] = current;
    },
    before() {
      const c = executionAsyncResource()[CTX];
      if (c !== current) {
        current = c;
        onSwitch(c);
      }
    },
  }).enable();
const runIn = (ctx, fn, onSwitch) => {
  const prev = current;
  current = ctx;
  onSwitch(ctx);
  try {
    return fn();
  } finally {
    current = prev;
    onSwitch(prev);
  }
};
let wrap = (ctx, fn) => fn();
let collect = () => [];

if (mode === 'dd') {
  const { time } = require('@datadog/pprof');
  const { isAsyncContextFrameActive } = require('@datadog/pprof/out/src/async-context-frame.js');
  const cped = isAsyncContextFrameActive();
  time.start({ intervalMicros: intervalUs, withContexts: true, collectCpuTime: false, useCPED: cped, durationMillis: 3600_000 });
  if (cped) wrap = (ctx, fn) => time.runWithContext(ctx, fn);
  else {
    const set = (c) => time.setContext(c);
    propagation(set);
    wrap = (ctx, fn) => runIn(ctx, fn, set);
  }
  collect = () => {
    const out = [];
    const profile = time.stop(false, ({ node, context }) => (context && context.context ? { ctx: context.context.id } : {}));
    const st = profile.stringTable.strings;
    const fnName = new Map(profile.function.map((f) => [f.id, st[Number(f.name)]]));
    const locFn = new Map(profile.location.map((l) => [l.id, fnName.get(l.line[0].functionId)]));
    const ctxKey = profile.stringTable.strings.indexOf('ctx');
    for (const s of profile.sample) {
      const lab = s.label.find((l) => Number(l.key) === ctxKey);
      const names = s.locationId.map((id) => locFn.get(id));
      for (let k = 0; k < Number(s.value[0]); k++) out.push({ ctx: lab ? Number(lab.num) : 0, names });
    }
    return out;
  };
} else if (mode === 'inspector') {
  const session = new inspector.Session();
  session.connect();
  const post = (m, p) => { let r, e; session.post(m, p, (err, res) => { e = err; r = res; }); if (e) throw e; return r; };
  post('Profiler.enable');
  post('Profiler.setSamplingInterval', { interval: intervalUs });
  const cap = 1 << 22;
  const tAt = new Float64Array(cap), tCtx = new Int32Array(cap); let tn = 0;
  const nowUs = () => Number(process.hrtime.bigint() / 1000n);
  const mark = (id) => { if (tn < cap) { tAt[tn] = nowUs(); tCtx[tn++] = id; } };
  const set = (c) => mark(c?.id ?? 0);
  propagation(set);
  wrap = (ctx, fn) => runIn(ctx, fn, set);
  post('Profiler.start');
  collect = () => {
    const { profile } = post('Profiler.stop');
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map(); for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const out = []; let t = profile.startTime; let j = 0; let cur = 0;
    for (let i = 0; i < profile.samples.length; i++) {
      t += profile.timeDeltas[i];
      while (j < tn && tAt[j] <= t) cur = tCtx[j++];
      const names = []; for (let id = profile.samples[i]; id !== undefined; id = parent.get(id)) names.push(byId.get(id).callFrame.functionName);
      out.push({ ctx: cur, names });
    }
    return out;
  };
}

const server = http.createServer((req, res) => {
  const type = req.url.startsWith('/a') ? 'A' : 'B';
  const ctx = { id: nextId++ };
  ctxType.set(ctx.id, type);
  wrap(ctx, () => (type === 'A' ? handleA : handleB)(req, res));
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));

let cpu0, n0 = 0, served = 0;
server.on('request', (req, res) => res.on('finish', () => served++));
process.on('message', (m) => {
  if (m === 'mark') { cpu0 = process.cpuUsage(); n0 = served; return; }
  if (m === 'report') {
    const cpu = process.cpuUsage(cpu0);
    const reqs = served - n0;
    const samples = collect();
    const stats = {};
    for (const t of ['A', 'B']) {
      const mine = samples.filter((s) => ctxType.get(s.ctx) === t && !['(idle)', '(program)', '(garbage collector)', 'Garbage Collection'].includes(s.names[0]));
      const handler = t === 'A' ? 'handleA' : 'handleB', other = t === 'A' ? 'hotB' : 'hotA', own = t === 'A' ? 'hotA' : 'hotB';
      stats[t] = {
        samples: mine.length,
        underHandler: mine.filter((s) => s.names.includes(handler)).length / (mine.length || 1),
        otherHot: mine.filter((s) => s.names.includes(other)).length / (mine.length || 1),
        ownHotLeaf: mine.filter((s) => s.names[0] === own).length / (mine.length || 1),
      };
    }
    const unattributedHot = samples.filter((s) => !ctxType.has(s.ctx) && (s.names.includes('hotA') || s.names.includes('hotB'))).length;
    const leaf = {}; for (const s of samples) { const k = (ctxType.get(s.ctx) ?? "-") + ":" + s.names[0]; leaf[k] = (leaf[k] ?? 0) + 1; } if (process.env.DEBUG_LEAF) console.error(mode, JSON.stringify(leaf));
    process.send({ cpuUsPerReq: (cpu.user + cpu.system) / reqs, reqs, stats, unattributedHot, total: samples.length });
  }
});
