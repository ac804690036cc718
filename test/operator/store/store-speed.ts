/**
 * Quick check of the store's merged-tree path at the scale; not a test (the benchmark proper is
 * `npm run bench:operator`). 1,000 pods × one 5,000-node request each, then: the first session-tree query
 * (builds from every stored request), a cached query, a query after one more request (incremental), the
 * first query after reopening the file (the stored merged tree), and the worst case: no stored merged
 * tree, every request decoded and merged. Run:
 *   npx esbuild test/operator/store/store-speed.ts --bundle --platform=node --format=esm --packages=external --outfile=/tmp/store-speed.mjs && node /tmp/store-speed.mjs
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { serializeTree } from '../../../src/model/serialized.js';
import type { RequestRecord } from '../../../src/protocol/messages.js';
import { SqliteStore } from '../../../operator/store/sqlite-store.js';
import { requestLikeTrees, seededRandom } from '../../src/random-trees.js';
import { sessionView } from './store-fixtures.js';

const time = <T>(fn: () => T): [T, number] => {
  const t0 = performance.now();
  const r = fn();
  return [r, performance.now() - t0];
};
const dir = mkdtempSync(join(tmpdir(), 'sonde-speed-'));
const file = join(dir, 'sonde.db');
const log = pino({ level: 'silent' });
try {
  const trees = requestLikeTrees(seededRandom(42), 1001, 5000, 60_000).map((t) => serializeTree(t));
  const record = (i: number): RequestRecord => ({ id: `r${i}`, type: 'GET /a', startedAt: i, durationMs: 10 + (i % 100), outcome: 'ok', samples: 1, cpuUs: 0, waitingUs: 0, blockedUs: 0, tree: trees[i]! });
  let store = new SqliteStore({ file, log, retention: { intervalMs: 0 } });
  store.saveSession(sessionView('s1'));
  const [, insertMs] = time(() => {
    for (let i = 0; i < 1000; i++) store.addRequests('s1', { pod: `web-${i}`, workload: 'web', pid: 1 }, [record(i)]);
  });
  console.log(`insert 1000 requests x 5000 nodes: ${insertMs.toFixed(0)} ms; file ${(statSync(file).size / 1e6).toFixed(1)} MB`);
  const [tree, coldMs] = time(() => store.tree('s1'));
  console.log(`first merged-tree query (1000 x 5000 -> ${tree.size} nodes): ${coldMs.toFixed(0)} ms`);
  console.log(`cached query: ${time(() => store.tree('s1'))[1].toFixed(2)} ms`);
  store.addRequests('s1', { pod: 'web-1000', workload: 'web', pid: 1 }, [record(1000)]);
  console.log(`query after one more request (incremental): ${time(() => store.tree('s1'))[1].toFixed(0)} ms`);
  console.log(`pod tree query: ${time(() => store.tree('s1', { pod: 'web-7' }))[1].toFixed(0)} ms`);
  console.log(`slow split query: ${time(() => store.tree('s1', { split: 'slow' }))[1].toFixed(0)} ms`);
  console.log(`hotspots (cold): ${time(() => store.hotspots())[1].toFixed(0)} ms, warm: ${time(() => store.hotspots())[1].toFixed(1)} ms`);
  store.close();
  store = new SqliteStore({ file, log, retention: { intervalMs: 0 } });
  console.log(`first query after reopen (stored merged tree): ${time(() => store.tree('s1'))[1].toFixed(0)} ms`);
  store.db.exec('DELETE FROM session_trees');
  store.close();
  store = new SqliteStore({ file, log, retention: { intervalMs: 0 } });
  console.log(`worst case, rebuilt from the 1001 stored requests (decode + merge): ${time(() => store.tree('s1'))[1].toFixed(0)} ms`);
  store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
