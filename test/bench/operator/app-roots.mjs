#!/usr/bin/env node
// What a session's application roots cost to read (`npm run bench:operator:roots`; expects a build in dist/).
//
// The tree route asks the store for the roots of the session (or pod) whose tree it serves
// (SqliteStore.roots). The `root` column comes after each request's tree BLOB, so a query that reads
// it from the table walks every request's overflow pages; schema 3's covering index
// `requests_roots(session, root, pod)` answers alone. This stores REQUESTS requests (trees of NODES
// random frames, so the compressed BLOBs are realistic, several KB) from PODS pods with 2 roots, then
// times roots() for the session and for one pod, with the index and without it (dropped), in
// interleaved rounds: median and spread (min–max) per variant.
//
// Env: REQUESTS (default 5000), PODS (20), NODES (600), ROUNDS (15).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const { SqliteStore } = await import(join(root, 'dist/operator/store/sqlite-store.js'));
const { CallTreeBuilder } = await import(join(root, 'dist/src/model/call-tree-builder.js'));
const { makeFrame } = await import(join(root, 'dist/src/model/frame.js'));
const { serializeTree } = await import(join(root, 'dist/src/model/serialized.js'));

const REQUESTS = Number(process.env.REQUESTS ?? 5000);
const PODS = Number(process.env.PODS ?? 20);
const NODES = Number(process.env.NODES ?? 600);
const ROUNDS = Number(process.env.ROUNDS ?? 15);

let seed = 42;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
function tree(rootDir) {
  const b = new CallTreeBuilder();
  const stack = [];
  for (let i = 0; i < NODES; i++) {
    if (stack.length > 1 && rand() < 0.4) stack.length = 1 + Math.floor(rand() * (stack.length - 1));
    stack.push(makeFrame(`fn${Math.floor(rand() * 1e9).toString(36)}`, `${rootDir}/src/m${Math.floor(rand() * 400)}.js`, 1 + Math.floor(rand() * 900), 1));
    b.addStack(stack, { samples: 1, wallUs: 1000, cpuUs: 900 });
  }
  return serializeTree(b.build());
}

const dir = mkdtempSync(join(tmpdir(), 'sonde-bench-roots-'));
const file = join(dir, 'sonde.db');
const store = new SqliteStore({ file, log: pino({ level: 'silent' }), retention: { intervalMs: 0 }, reserveBytes: 0 });
try {
  const now = new Date().toISOString();
  store.saveSession({
    id: 's1', name: 's1', namespace: 'shop', source: 'api', createdAt: now, generation: 1,
    spec: { selector: {}, request: 'GET /a', requests: REQUESTS, duration: '5m', sampleInterval: '10ms' },
    status: { phase: 'Running', conditions: [], requestsProfiled: 0, progress: '0', pods: [], hotspots: [] },
  });
  const t0 = performance.now();
  for (let i = 0; i < REQUESTS; i += 50) {
    const pod = `web-${(i / 50) % PODS}`;
    const rootDir = (i / 50) % 2 ? '/srv/shop' : '/app';
    const records = [];
    for (let k = i; k < Math.min(REQUESTS, i + 50); k++) {
      records.push({ id: `r${k}`, type: 'GET /a', startedAt: Date.now(), durationMs: 20, outcome: 'ok', status: 200, samples: NODES, cpuUs: 0, waitingUs: 0, blockedUs: 0, tree: tree(rootDir) });
    }
    store.addRequests('s1', { pod, workload: 'web', pid: 1, root: rootDir }, records);
  }
  const fill = performance.now() - t0;
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  const mib = statSync(file).size / 2 ** 20;

  const time = (fn) => {
    const t = performance.now();
    fn();
    return performance.now() - t;
  };
  const variants = {
    'session, index': [], 'pod, index': [], 'session, no index': [], 'pod, no index': [],
  };
  for (let r = 0; r < ROUNDS; r++) {
    // Interleaved: each round measures all four, so drift on a noisy machine touches them alike.
    store.db.exec('CREATE INDEX IF NOT EXISTS requests_roots ON requests(session, root, pod)');
    variants['session, index'].push(time(() => store.roots('s1')));
    variants['pod, index'].push(time(() => store.roots('s1', { pod: 'web-3' })));
    store.db.exec('DROP INDEX requests_roots');
    variants['session, no index'].push(time(() => store.roots('s1')));
    variants['pod, no index'].push(time(() => store.roots('s1', { pod: 'web-3' })));
  }
  store.db.exec('CREATE INDEX IF NOT EXISTS requests_roots ON requests(session, root, pod)');
  const check = store.roots('s1');
  if (check.join() !== '/app,/srv/shop') throw new Error(`unexpected roots ${check}`);
  console.log(`${REQUESTS} requests from ${PODS} pods, trees of ${NODES} frames; database ${mib.toFixed(0)} MiB (filled in ${(fill / 1000).toFixed(1)} s); ${ROUNDS} interleaved rounds`);
  const out = {};
  for (const [name, xs] of Object.entries(variants)) {
    const s = [...xs].sort((a, b) => a - b);
    const med = s[Math.floor(s.length / 2)];
    out[name] = { medianMs: +med.toFixed(3), minMs: +s[0].toFixed(3), maxMs: +s[s.length - 1].toFixed(3) };
    console.log(`  roots(), ${name.padEnd(18)} median ${med.toFixed(3).padStart(9)} ms  (min ${s[0].toFixed(3)}, max ${s[s.length - 1].toFixed(3)})`);
  }
  console.log(JSON.stringify({ bench: 'app-roots', requests: REQUESTS, pods: PODS, nodes: NODES, dbMiB: +mib.toFixed(1), ...out }));
} finally {
  store.close();
  rmSync(dir, { recursive: true, force: true });
}
