// Records the UI tests' fixtures from the real thing: a standalone operator, two instances of the demo
// shop running the real agent (`--import dist/agent/register.js`), real traffic on loopback, and real
// sessions created through the REST API. Every response the UI tests replay is saved as the operator
// sent it. Run after `npm run build`:   node test/ui/record-fixtures.mjs
//
// Sets written to test/ui/fixtures/:
//   empty/       a fresh operator with agents connected and no session yet (plus the "start a session"
//                form's POSTs: created, then the same name again → 409, and an invalid spec → 400)
//   live/        the moment a session starts, and the server-sent events of its whole run
//   standalone/  after four sessions ran: lists, sessions, trees (every pod × split), requests,
//                exports in every format, cluster hotspots with filters
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = join(root, 'dist');
const OUT = join(root, 'test', 'ui', 'fixtures');
const AGENT = join(dist, 'agent', 'register.js');
const APP = join(dist, 'operator', 'demo', 'sample-app.js');
for (const f of [AGENT, APP, join(dist, 'operator', 'main.js')]) if (!existsSync(f)) throw new Error(`${f} is missing: run npm run build first`);

const { startOperator, loadConfig } = await import(join(dist, 'operator', 'main.js'));
const { generateTraffic } = await import(join(dist, 'operator', 'demo', 'traffic.js'));

const FORMATS = ['pprof', 'collapsed', 'speedscope', 'cpuprofile', 'd3'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.log('record:', ...a);

/** A fixture set being recorded: responses in memory, written out at the end. */
class FixtureSet {
  constructor(name) {
    this.name = name;
    this.responses = [];
    this.events = [];
  }
  add(method, path, query, status, contentType, headers, data, body) {
    const entry = { method, path, query, status, contentType, file: '' };
    if (headers) entry.headers = headers;
    if (body !== undefined) entry.body = body;
    this.responses.push({ entry, data });
  }
  write(meta) {
    const dir = join(OUT, this.name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, 'bodies'), { recursive: true });
    const index = { meta, responses: [], events: this.events };
    this.responses.forEach(({ entry, data }, i) => {
      const ext = entry.contentType.includes('json') ? 'json' : entry.contentType.startsWith('text/') ? 'txt' : 'bin';
      const slug = `${entry.method}${entry.path}`.replace(/[^A-Za-z0-9]+/g, '-').replace(/-+$/, '').slice(0, 60);
      entry.file = `bodies/${String(i).padStart(3, '0')}-${slug}.${ext}`;
      writeFileSync(join(dir, entry.file), data);
      index.responses.push(entry);
    });
    writeFileSync(join(dir, 'index.json'), JSON.stringify(index, null, 1) + '\n');
    const bytes = this.responses.reduce((n, r) => n + r.data.length, 0);
    log(`${this.name}: ${this.responses.length} responses, ${this.events.length} events, ${(bytes / 1024).toFixed(0)} KiB`);
  }
}

let api = '';

/** Calls the API and records the exact response into `set`. */
async function record(set, method, path, query = {}, body) {
  const qs = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== '')).toString();
  const res = await fetch(`${api}${path}${qs ? `?${qs}` : ''}`, body === undefined ? { method } : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const data = Buffer.from(await res.arrayBuffer());
  const contentType = res.headers.get('content-type') ?? 'application/octet-stream';
  const disposition = res.headers.get('content-disposition');
  const q = Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined && v !== ''));
  set.add(method, path, q, res.status, contentType, disposition ? { 'content-disposition': disposition } : undefined, data, body);
  return { status: res.status, json: contentType.includes('json') ? JSON.parse(data.toString('utf8')) : undefined };
}

async function getJson(path) {
  const res = await fetch(`${api}${path}`);
  return res.json();
}

async function createSession(body) {
  const res = await fetch(`${api}/api/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = await res.json();
  if (res.status !== 201) throw new Error(`creating ${body.name}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function waitFor(what, fn, timeoutMs = 120_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(300);
  }
}

const waitDone = (id) =>
  waitFor(`session ${id} to end`, async () => {
    const s = await getJson(`/api/v1/sessions/${id}`);
    return s.status.phase === 'Completed' || s.status.phase === 'Failed' ? s : undefined;
  });

/** Follows /api/v1/events, collecting events until stopped. */
function followEvents(into) {
  const ctrl = new AbortController();
  const done = (async () => {
    const res = await fetch(`${api}/api/v1/events`, { signal: ctrl.signal });
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) return;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (ev && data) into.push({ event: ev, data: JSON.parse(data) });
      }
    }
  })().catch((err) => {
    if (err.name !== 'AbortError') throw err;
  });
  return async () => {
    ctrl.abort();
    await done;
  };
}

function startApp(index, agentUrl) {
  const child = spawn(process.execPath, ['--import', AGENT, APP], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', SONDE_URL: agentUrl, POD_NAME: `shop-7d9f8b6c5-${['x2x9z', 'k4m7q'][index]}`, POD_NAMESPACE: 'default', POD_UID: '', SONDE_LABELS: 'app=shop,workload=shop', NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`app ${index} did not start:\n${err}`)), 20_000);
    child.stdout.setEncoding('utf8').on('data', (c) => {
      out += c;
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.stderr.setEncoding('utf8').on('data', (c) => (err += c));
    child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`app ${index} exited ${code}:\n${err}`))));
  });
}

const dataDir = await mkdtemp(join(tmpdir(), 'sonde-ui-fixtures-'));
const op = await startOperator(loadConfig(['--standalone', '--port', '0', '--host', '127.0.0.1', '--data', dataDir], { SONDE_LOG_LEVEL: 'warn' }), { handleSignals: false });
api = op.url;
const apps = [];
const trafficStop = new AbortController();
let traffic;
try {
  const agentUrl = api.replace(/^http/, 'ws') + '/v1/agents';
  apps.push(...(await Promise.all([0, 1].map((i) => startApp(i, agentUrl)))));
  traffic = generateTraffic({ targets: apps.map((a) => `http://127.0.0.1:${a.port}`), signal: trafficStop.signal, concurrency: 2, pauseMs: 5 });
  const types = ['GET /api/orders/:id', 'GET /api/search', 'POST /api/checkout'];
  await waitFor('the agents to report every request type', async () => {
    const { items } = await getJson('/api/v1/request-types');
    return types.every((t) => items.some((i) => i.type === t && i.count >= 20));
  });
  const pods = (await getJson('/api/v1/agents')).items.map((a) => a.pod.name).sort();
  log('agents', pods.join(', '));

  // ── empty: no session yet ──
  const empty = new FixtureSet('empty');
  for (const p of ['/api/v1/info', '/api/v1/sessions', '/api/v1/request-types', '/api/v1/hotspots', '/api/v1/agents']) await record(empty, 'GET', p);

  // ── live: a session from its start, with the events of its run ──
  const live = new FixtureSet('live');
  const stopEvents = followEvents(live.events);
  await sleep(300);
  const orders = await createSession({ name: 'orders', spec: { selector: { matchLabels: { app: 'shop' } }, request: 'GET /api/orders/:id', requests: 200, duration: '5m', sampleInterval: '1ms' } });
  await record(live, 'GET', '/api/v1/info');
  await record(live, 'GET', '/api/v1/sessions');
  await record(live, 'GET', `/api/v1/sessions/${orders.id}`);
  await waitDone(orders.id);
  await sleep(500);
  await stopEvents();
  // Keep this session's events and the agent counts; thin long runs to at most 60 steps.
  let evs = live.events.filter((e) => e.event === 'agents' || e.data.id === orders.id);
  if (evs.length > 60) evs = evs.filter((e, i) => i === evs.length - 1 || i % Math.ceil(evs.length / 60) === 0);
  live.events = evs;

  // ── the "start a session" form's POSTs, recorded into the empty set ──
  const form = { name: 'search-form', namespace: 'default', spec: { selector: { matchLabels: { app: 'shop' } }, request: 'GET /api/search', requests: 50, duration: '5m', sampleInterval: '2ms' } };
  const created = await record(empty, 'POST', '/api/v1/sessions', {}, form);
  if (created.status !== 201) throw new Error(`the form session was refused: ${JSON.stringify(created.json)}`);
  await record(empty, 'POST', '/api/v1/sessions', {}, form);
  await record(empty, 'POST', '/api/v1/sessions', {}, { ...form, name: 'bad-spec', spec: { ...form.spec, requests: 0, duration: '2h' } });

  // ── more sessions: checkout (waits on a fake database), a second orders run to compare, one that never matches ──
  const checkout = await createSession({ name: 'checkout', spec: { selector: { matchLabels: { app: 'shop' } }, request: 'POST /api/checkout', requests: 60, duration: '5m', sampleInterval: '2ms' } });
  const after = await createSession({ name: 'orders-after', spec: { selector: { matchLabels: { app: 'shop' } }, request: 'GET /api/orders/:id', requests: 100, duration: '5m', sampleInterval: '1ms' } });
  await Promise.all([waitDone(created.json.id), waitDone(checkout.id), waitDone(after.id)]);
  const waiting = await createSession({ name: 'billing-nightly', spec: { selector: { matchLabels: { app: 'billing' } }, request: 'GET /api/invoices/:id', requests: 100, duration: '1h', sampleInterval: '10ms' } });
  await sleep(1500);

  // ── standalone: everything the pages read ──
  const main = new FixtureSet('standalone');
  for (const p of ['/api/v1/info', '/api/v1/sessions', '/api/v1/request-types', '/api/v1/agents']) await record(main, 'GET', p);
  const hotspotQueries = [{}, { namespace: 'default' }, { workload: 'shop' }, ...types.map((request) => ({ request })), { namespace: 'default', workload: 'shop', request: 'GET /api/orders/:id' }, { namespace: 'nowhere' }];
  for (const q of hotspotQueries) await record(main, 'GET', '/api/v1/hotspots', q);
  await record(main, 'GET', '/api/v1/sessions/no-such-session');
  for (const s of [orders, created.json, checkout, after, waiting]) {
    const id = s.id;
    const full = id === orders.id;
    await record(main, 'GET', `/api/v1/sessions/${id}`);
    await record(main, 'GET', `/api/v1/sessions/${id}/requests`);
    for (const pod of ['', ...pods]) {
      for (const split of ['', 'slow', 'typical']) {
        await record(main, 'GET', `/api/v1/sessions/${id}/tree`, { pod, split });
        // exports: every format for every view of the main session, the unfiltered tree of the others
        if (full || (!pod && !split)) for (const format of FORMATS) await record(main, 'GET', `/api/v1/sessions/${id}/tree`, { pod, split, format });
      }
    }
  }
  const meta = {
    recordedAt: new Date().toISOString(),
    by: 'test/ui/record-fixtures.mjs',
    node: process.version,
    sessions: { orders: orders.id, searchForm: created.json.id, checkout: checkout.id, ordersAfter: after.id, waiting: waiting.id },
    pods,
    form,
  };
  for (const set of [empty, live, main]) set.write(meta);
} finally {
  trafficStop.abort();
  await traffic?.catch(() => {});
  for (const { child } of apps) child.kill('SIGTERM');
  await op.close();
  await rm(dataDir, { recursive: true, force: true });
}
