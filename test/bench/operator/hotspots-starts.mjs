#!/usr/bin/env node
// What joining functions across sessions costs cluster-wide hotspots
// (`npm run build && node test/bench/operator/hotspots-starts.mjs`).
//
// computeHotspots (operator/store/hotspot-query.ts) sums stored per-function weights in SQL. Before, SQL
// also ranked them and returned the top LIMIT; since the leftovers branch SQL returns every function's
// key and sums, and JavaScript joins those stored without a start line (an older agent's session) to the
// function with a start that another session knows, then ranks (a function stored under two keys can
// only rank once they are added). This
// stores SESSIONS sessions (half with start lines, half without) of one request each, a tree of NODES
// frames over FUNCTIONS functions, fills the stored weights once, then times warm queries of the new
// computeHotspots against the one before it (BASE, compiled from git with esbuild beside the build), in
// interleaved rounds: median and spread (min–max) per variant.
//
// Env: SESSIONS (default 100), NODES (2000), FUNCTIONS (4000), ROUNDS (9), BASE (9829fb6, main before
// the change).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transformSync } from 'esbuild';
import { pino } from 'pino';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const { SqliteStore } = await import(join(root, 'dist/operator/store/sqlite-store.js'));
const { computeHotspots } = await import(join(root, 'dist/operator/store/hotspot-query.js'));
const { CallTreeBuilder } = await import(join(root, 'dist/src/model/call-tree-builder.js'));
const { makeFrame } = await import(join(root, 'dist/src/model/frame.js'));
const { serializeTree } = await import(join(root, 'dist/src/model/serialized.js'));

const SESSIONS = Number(process.env.SESSIONS ?? 100);
const NODES = Number(process.env.NODES ?? 2000);
const FUNCTIONS = Number(process.env.FUNCTIONS ?? 4000);
const ROUNDS = Number(process.env.ROUNDS ?? 9);
const BASE = process.env.BASE ?? '9829fb6';

// The query before the change, compiled next to the build so its relative imports resolve.
const before = join(root, 'dist/operator/store/hotspot-query-bench-base.js');
const source = execFileSync('git', ['-C', root, 'show', `${BASE}:operator/store/hotspot-query.ts`], { encoding: 'utf8' });
writeFileSync(before, transformSync(source, { loader: 'ts', format: 'esm' }).code);
const { computeHotspots: computeBefore } = await import(pathToFileURL(before).href);

let seed = 42;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
// Function i lives in file i % 300, begins at line 10 + 40 * (i / 300) and is sampled a few lines in.
const fn = (i, withStarts) => {
  const start = 10 + 40 * Math.floor(i / 300);
  return makeFrame(`fn${i}`, `/app/src/m${i % 300}.js`, start + 1 + Math.floor(rand() * 30), 1, 'code', undefined, withStarts ? start : undefined);
};
function tree(withStarts) {
  const b = new CallTreeBuilder();
  const stack = [];
  for (let i = 0; i < NODES; i++) {
    if (stack.length > 1 && rand() < 0.4) stack.length = 1 + Math.floor(rand() * (stack.length - 1));
    stack.push(fn(Math.floor(rand() * FUNCTIONS), withStarts));
    b.addStack(stack, { samples: 1, wallUs: 1000, cpuUs: 900 });
  }
  return serializeTree(b.build());
}

const dir = mkdtempSync(join(tmpdir(), 'sonde-bench-hotspots-'));
const store = new SqliteStore({ file: join(dir, 'sonde.db'), log: pino({ level: 'silent' }), retention: { intervalMs: 0 }, reserveBytes: 0 });
try {
  const now = new Date().toISOString();
  const t0 = performance.now();
  for (let s = 0; s < SESSIONS; s++) {
    const id = `s${s}`;
    store.saveSession({
      id, name: id, namespace: 'shop', source: 'api', createdAt: now, generation: 1,
      spec: { selector: {}, request: 'GET /a', requests: 1, duration: '5m', sampleInterval: '10ms' },
      status: { phase: 'Running', conditions: [], requestsProfiled: 0, progress: '0', pods: [], hotspots: [] },
    });
    store.addRequests(id, { pod: `web-${s}`, workload: 'web', pid: 1 }, [
      { id: `r${s}`, type: 'GET /a', startedAt: Date.now(), durationMs: 20, outcome: 'ok', status: 200, samples: NODES, cpuUs: 0, waitingUs: 0, blockedUs: 0, tree: tree(s % 2 === 0) },
    ]);
  }
  const fill = performance.now() - t0;
  const t1 = performance.now();
  store.hotspots();
  const cold = performance.now() - t1;
  const rows = store.db.prepare('SELECT COUNT(*) AS n FROM frame_stats').get().n;
  const workloadTree = () => {
    throw new Error('the stored weights should be fresh');
  };

  const time = (fn) => {
    const t = performance.now();
    const r = fn();
    return [performance.now() - t, r];
  };
  const variants = { before: [], after: [] };
  let rowsBefore = 0;
  let rowsAfter = 0;
  for (let r = 0; r < ROUNDS; r++) {
    // Interleaved, the order alternating: drift on a noisy machine touches both alike.
    const order = r % 2 ? ['after', 'before'] : ['before', 'after'];
    for (const v of order) {
      const [ms, out] = time(() => (v === 'after' ? computeHotspots : computeBefore)(store.db, { limit: 50 }, workloadTree));
      variants[v].push(ms);
      if (v === 'after') rowsAfter = out.items.length;
      else rowsBefore = out.items.length;
    }
  }
  const distinct = (q) => store.db.prepare(q).get().n;
  const keys = distinct("SELECT COUNT(DISTINCT fkey) AS n FROM frame_stats WHERE kind = 'code'");
  console.log(`${SESSIONS} sessions (half with start lines), trees of ${NODES} frames over ${FUNCTIONS} functions; ${rows} stored function rows, ${keys} distinct keys; filled in ${(fill / 1000).toFixed(1)} s, first hotspots ${cold.toFixed(0)} ms; ${ROUNDS} interleaved rounds, limit 50 (${rowsBefore} / ${rowsAfter} rows)`);
  const out = {};
  for (const [name, xs] of Object.entries(variants)) {
    const s = [...xs].sort((a, b) => a - b);
    const med = s[Math.floor(s.length / 2)];
    out[name] = { medianMs: +med.toFixed(2), minMs: +s[0].toFixed(2), maxMs: +s[s.length - 1].toFixed(2) };
    console.log(`  warm hotspots, ${name.padEnd(7)} median ${med.toFixed(2).padStart(8)} ms  (min ${s[0].toFixed(2)}, max ${s[s.length - 1].toFixed(2)})`);
  }
  console.log(JSON.stringify({ bench: 'hotspots-starts', sessions: SESSIONS, nodes: NODES, functions: FUNCTIONS, storedRows: rows, ...out }));
} finally {
  store.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(before, { force: true });
}
