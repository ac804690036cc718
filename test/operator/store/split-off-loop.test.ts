import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { serializeTree } from '../../../src/model/serialized.js';
import type { SqliteStore } from '../../../operator/store/sqlite-store.js';
import { fakeRequest, makeTree } from '../../harness/fake-agent.js';
import { openStore, sessionView, tempDir } from './store-fixtures.js';

/**
 * A slow/typical split merges every selected request's tree. For a large session that is seconds of
 * work; treeAsync does it in slices with the event loop free between them, and gives the same tree.
 */
const REQUESTS = 3000;
let dir: ReturnType<typeof tempDir>;
let store: SqliteStore;

beforeAll(() => {
  dir = tempDir();
  store = openStore(join(dir.dir, 'sonde.db'));
  store.saveSession(sessionView('big', { phase: 'Completed', completedAt: '2026-01-01T00:01:00.000Z' }));
  for (let b = 0; b < REQUESTS; b += 100) {
    const batch = Array.from({ length: 100 }, (_, i) => {
      const n = b + i;
      // ~400 nodes per request, partly shared across requests so the merge has real work.
      const stacks = Array.from({ length: 130 }, (_, k) => ({ frames: ['handler', `mid${k % 40}`, `leaf${(k * 7 + n) % 300}`], samples: 1 + (k % 3) }));
      return { ...fakeRequest('GET /a', { id: `r${n}`, durationMs: 1 + (n % 100) }), tree: makeTree(stacks) };
    });
    store.addRequests('big', { pod: `web-${b % 3}`, workload: 'web', pid: 1 }, batch);
  }
});

afterAll(() => {
  store.close();
  dir.cleanup();
});

/** The longest the event loop went without running a 1 ms timer while `work` ran. */
async function longestStall(work: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 1);
  await work();
  clearInterval(timer);
  worst = Math.max(worst, performance.now() - last);
  return worst;
}

describe('split trees off the event loop', () => {
  it('merges a slow split in slices: the same tree as the blocking merge, without stalling the loop', async () => {
    // The blocking merge, for reference and for its result; then a second store object on the same
    // file, whose cache is empty, merges the same split in slices.
    const t0 = performance.now();
    const blocking = store.tree('big', { split: 'typical' });
    const blockingMs = performance.now() - t0;
    const fresh = openStore(join(dir.dir, 'sonde.db'));
    try {
      let sliced: Awaited<ReturnType<SqliteStore['treeAsync']>> | undefined;
      const stall = await longestStall(async () => {
        sliced = await fresh.treeAsync('big', { split: 'typical' });
      });
      expect(serializeTree(sliced!)).toEqual(serializeTree(blocking));
      expect(sliced!.totals.samples).toBeGreaterThan(0);
      // The blocking merge held the loop for all of blockingMs; slices for a small part of it.
      expect(blockingMs).toBeGreaterThan(100);
      expect(stall).toBeLessThan(blockingMs / 3);
      // Cached now: a second ask returns the same object at once, and concurrent asks share one merge.
      expect(await fresh.treeAsync('big', { split: 'typical' })).toBe(sliced);
      const [a, b] = await Promise.all([fresh.treeAsync('big', { split: 'slow' }), fresh.treeAsync('big', { split: 'slow' })]);
      expect(a).toBe(b);
      console.log(`split merge of ${REQUESTS} requests: blocking ${blockingMs.toFixed(0)} ms; in slices the longest stall was ${stall.toFixed(1)} ms`);
    } finally {
      fresh.close();
    }
  });
});
