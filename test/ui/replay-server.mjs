// A small HTTP server for the UI's browser tests and benchmark: serves the built UI (dist/ui) and
// answers docs/api.md's endpoints by replaying responses recorded from a real operator
// (test/ui/record-fixtures.mjs). It never invents an answer: a request with no recording gets a 404
// in the API's error shape and is listed in `unmatched`, so tests can fail on it.
import { createServer } from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** The key of a request: method, path and its query with parameters sorted. */
export function requestKey(method, path, query) {
  const params = [...new URLSearchParams(query).entries()].filter(([, v]) => v !== '').sort(([a, av], [b, bv]) => (a === b ? av.localeCompare(bv) : a.localeCompare(b)));
  const qs = new URLSearchParams(params).toString();
  return `${method.toUpperCase()} ${path}${qs ? `?${qs}` : ''}`;
}

/** JSON with object keys sorted, so two equal bodies compare equal whatever their key order. */
export function canonical(value) {
  return JSON.stringify(value, (_k, v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v));
}

/**
 * Loads a fixture set: `<dir>/index.json` lists responses ({method, path, query, body?, status,
 * contentType, headers?, file}) and server-sent events ({event, data}); bodies live beside it.
 */
export function loadFixtures(dir) {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  const responses = index.responses.map((r) => ({ ...r, key: requestKey(r.method, r.path, r.query ?? {}), data: readFileSync(join(dir, r.file)) }));
  return { meta: index.meta ?? {}, responses, events: index.events ?? [] };
}

/** Several fixture sets as one: the first set that has a response for a request answers it. */
export function layered(...sets) {
  return { meta: sets[0]?.meta ?? {}, responses: sets.flatMap((s, layer) => s.responses.map((r) => ({ ...r, layer }))), events: sets.flatMap((s) => s.events) };
}

/**
 * Starts the server on a free loopback port.
 * options: { uiDir, fixtures: {responses, events}, replayEvents (default false), eventDelayMs }
 * Responses recorded more than once for the same request (a POST that succeeds, then conflicts) are
 * served in recorded order, the last one repeating.
 * Returns { url, close(), unmatched, requests, setUnreachable(bool), setFixtures(f) }.
 */
export async function startReplayServer(options) {
  let fixtures = options.fixtures;
  let unreachable = false;
  const unmatched = [];
  const requests = [];
  const streams = new Set();
  const served = new Map();
  const uiDir = options.uiDir;

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname.startsWith('/api/')) {
      if (unreachable) {
        // What a dead operator behind a port-forward looks like to the browser: the connection drops.
        req.socket.destroy();
        return;
      }
      return void api(req, res, url).catch((err) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'SONDE_INTERNAL', message: String(err) } }));
      });
    }
    serveStatic(url.pathname, res);
  });

  function serveStatic(pathname, res) {
    const rel = pathname === '/' ? 'index.html' : decodeURIComponent(pathname.slice(1));
    const file = normalize(join(uiDir, rel));
    if (!file.startsWith(normalize(uiDir) + sep) || !existsSync(file)) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
    res.end(readFileSync(file));
  }

  async function readBody(req) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const text = Buffer.concat(chunks).toString('utf8');
    return text ? JSON.parse(text) : undefined;
  }

  async function api(req, res, url) {
    const f = typeof fixtures === 'function' ? fixtures() : fixtures;
    const key = requestKey(req.method ?? 'GET', url.pathname, url.search);
    requests.push(key);
    if (url.pathname === '/api/v1/events') return events(req, res, f);
    const body = req.method === 'POST' ? await readBody(req) : undefined;
    const want = body === undefined ? undefined : canonical(body);
    let candidates = f.responses.filter((r) => r.key === key && r.body !== undefined && canonical(r.body) === want);
    if (candidates.length === 0) candidates = f.responses.filter((r) => r.key === key && r.body === undefined);
    // the first layer that has the request answers it; recorded order only counts within one layer
    const top = Math.min(...candidates.map((r) => r.layer ?? 0));
    candidates = candidates.filter((r) => (r.layer ?? 0) === top);
    const slot = `${key} ${want ?? ''}`;
    const n = served.get(slot) ?? 0;
    served.set(slot, n + 1);
    const hit = candidates[Math.min(n, candidates.length - 1)];
    if (!hit) {
      unmatched.push(body === undefined ? key : `${key} ${JSON.stringify(body)}`);
      res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ error: { code: 'SONDE_NOT_FOUND', message: `no recorded response for ${key}` } }));
      return;
    }
    res.writeHead(hit.status, { 'content-type': hit.contentType, ...(hit.headers ?? {}) });
    res.end(hit.data);
  }

  function events(req, res, f) {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    res.write('retry: 500\n\n');
    streams.add(res);
    req.on('close', () => streams.delete(res));
    if (!options.replayEvents) return;
    let i = 0;
    const delay = options.eventDelayMs ?? 150;
    const next = () => {
      if (res.destroyed || i >= f.events.length) return;
      const ev = f.events[i++];
      res.write(`event: ${ev.event}\ndata: ${JSON.stringify(ev.data)}\n\n`);
      setTimeout(next, delay);
    };
    setTimeout(next, delay);
  }

  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    unmatched,
    requests,
    setUnreachable(v) {
      unreachable = v;
      if (v) for (const s of streams) s.destroy();
    },
    setFixtures(f) {
      fixtures = f;
      served.clear();
    },
    close() {
      for (const s of streams) s.destroy();
      server.closeAllConnections?.();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** An in-memory recorded response (for generated data such as the benchmark's tree). */
export function memoryResponse(method, path, query, status, body, contentType = 'application/json; charset=utf-8') {
  const data = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return { method, path, query, status, contentType, data, key: requestKey(method, path, query ?? {}) };
}
