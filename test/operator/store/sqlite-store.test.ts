import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SondeError } from '../../../src/errors.js';
import type { CallTree } from '../../../src/model/call-tree.js';
import { CallTreeBuilder } from '../../../src/model/call-tree-builder.js';
import { makeFrame } from '../../../src/model/frame.js';
import { serializeTree } from '../../../src/model/serialized.js';
import { PROTOCOL_LIMITS } from '../../../src/protocol/messages.js';
import { ManualClock } from '../../../operator/clock.js';
import { SCHEMA_VERSION } from '../../../operator/store/schema.js';
import type { SqliteStore } from '../../../operator/store/sqlite-store.js';
import { fakeRequest, makeTree } from '../../harness/fake-agent.js';
import { openStore, sessionView, tempDir } from './store-fixtures.js';

let tmp: ReturnType<typeof tempDir>;
let file: string;
const stores: SqliteStore[] = [];

function open(clock?: ManualClock, retention?: Parameters<typeof openStore>[2]): SqliteStore {
  const s = openStore(file, clock, retention);
  stores.push(s);
  return s;
}

function frameNames(tree: CallTree): string[] {
  return tree.frames.map((f) => f.name).sort();
}

beforeEach(() => {
  tmp = tempDir();
  file = join(tmp.dir, 'sub', 'sonde.db');
});
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  tmp.cleanup();
});

describe('SQLite store', () => {
  it('keeps sessions, requests and trees across a reopen of the file', () => {
    const a = open();
    a.saveSession(sessionView('s1', { name: 'orders' }));
    a.saveSession(sessionView('s2', { name: 'orders', createdAt: '2026-01-02T00:00:00.000Z', phase: 'Completed' }));
    a.addRequests('s1', { pod: 'web-1', workload: 'web', pid: 1 }, [fakeRequest('GET /a', { id: 'r1' }), fakeRequest('GET /a', { id: 'r2' })]);
    const before = a.tree('s1').totals;
    a.close();

    const b = open();
    expect(b.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(b.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(b.getSession('s1')!.name).toBe('orders');
    expect(b.findSession('shop', 'orders')!.id).toBe('s2');
    expect(b.listSessions().map((v) => v.id)).toEqual(['s2', 's1']);
    expect(b.listSessions({ phase: 'Completed' }).map((v) => v.id)).toEqual(['s2']);
    expect(b.listSessions({ namespace: 'other' })).toEqual([]);
    expect(b.requests('s1').map((r) => r.id)).toEqual(['r1', 'r2']);
    expect(b.tree('s1').totals).toEqual(before);
    expect(before.samples).toBe(20);
  });

  it('drops resent requests (same pod, process and id) but keeps the same id from another process', () => {
    const s = open();
    s.saveSession(sessionView('s1'));
    const r = fakeRequest('GET /a', { id: 'r1' });
    expect(s.addRequests('s1', { pod: 'web-1', workload: 'web', pid: 1 }, [r])).toHaveLength(1);
    expect(s.addRequests('s1', { pod: 'web-1', workload: 'web', pid: 1 }, [r])).toHaveLength(0);
    expect(s.addRequests('s1', { pod: 'web-1', workload: 'web', pid: 2 }, [r])).toHaveLength(1);
    expect(s.requests('s1')).toHaveLength(2);
    expect(s.podCounts('s1').get('web-1')).toEqual({ requests: 2, samples: 20 });
  });

  it('refuses a corrupt or oversized tree without touching what is stored', () => {
    const s = open();
    s.saveSession(sessionView('s1'));
    s.addRequests('s1', { pod: 'web-1', workload: 'web', pid: 1 }, [fakeRequest('GET /a', { id: 'r1' })]);
    const before = s.tree('s1').totals;

    const corrupt = fakeRequest('GET /a', { id: 'r2' });
    corrupt.tree.nodes[1] = 99; // a frame that does not exist
    const good = fakeRequest('GET /a', { id: 'r3' });
    expect(() => s.addRequests('s1', { pod: 'web-1', workload: 'web', pid: 1 }, [good, corrupt])).toThrow(
      expect.objectContaining({ code: 'SONDE_BAD_MESSAGE', message: expect.stringMatching(/request 1 \(r2\).*bad frame/) }),
    );

    const huge = fakeRequest('GET /a', { id: 'r4' });
    huge.tree.strings.push('x'.repeat(PROTOCOL_LIMITS.maxMessageBytes));
    let thrown: unknown;
    try {
      s.addRequests('s1', { pod: 'web-1', workload: 'web', pid: 1 }, [huge]);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(SondeError);
    expect((thrown as SondeError).code).toBe('SONDE_TREE_TOO_LARGE');

    expect(() => s.addRequests('nope', { pod: 'web-1', workload: 'web', pid: 1 }, [good])).toThrow(/No such object/);
    expect(s.requests('s1').map((r) => r.id)).toEqual(['r1']);
    expect(s.tree('s1').totals).toEqual(before);
  });

  it('filters trees by pod and by request id, and splits slow from typical requests', () => {
    const s = open();
    s.saveSession(sessionView('s1'));
    // Ten requests on two pods, 10..100 ms; the two slowest run slowFn, the rest fastFn.
    for (let i = 1; i <= 10; i++) {
      const pod = i % 2 ? 'web-1' : 'web-2';
      s.addRequests('s1', { pod, workload: 'web', pid: 1 }, [fakeRequest('GET /a', { id: `r${i}`, durationMs: i * 10, hot: i >= 9 ? 'slowFn' : 'fastFn', samples: 10 })]);
    }
    expect(s.tree('s1').totals.samples).toBe(100);
    expect(s.tree('s1', { pod: 'web-1' }).totals.samples).toBe(50);
    expect(s.requests('s1', { pod: 'web-2' }).map((r) => r.id)).toEqual(['r2', 'r4', 'r6', 'r8', 'r10']);
    expect(s.tree('s1', { requestId: 'r3' }).totals.samples).toBe(10);
    expect(s.tree('s1', { requestId: 'missing' }).size).toBe(1);

    expect(s.durationPercentiles('s1')).toEqual({ p50: 50, p90: 90 });
    const slow = s.tree('s1', { split: 'slow' });
    expect(slow.totals.samples).toBe(20);
    expect(frameNames(slow)).toContain('slowFn');
    expect(frameNames(slow)).not.toContain('fastFn');
    const typical = s.tree('s1', { split: 'typical' });
    expect(typical.totals.samples).toBe(50);
    expect(frameNames(typical)).not.toContain('slowFn');
    expect(s.tree('s1', { split: 'slow', pod: 'web-2' }).totals.samples).toBe(10);
    expect(s.tree('unknown').size).toBe(1);
  });

  it('folds new requests into cached merged trees, in memory and after a reopen', () => {
    const a = open();
    a.saveSession(sessionView('s1'));
    a.addRequests('s1', { pod: 'web-1', workload: 'web', pid: 1 }, [fakeRequest('GET /a', { id: 'r1', hot: 'one' })]);
    expect(a.tree('s1').totals.samples).toBe(10);
    expect(a.tree('s1', { pod: 'web-1' }).totals.samples).toBe(10);
    a.addRequests('s1', { pod: 'web-1', workload: 'web', pid: 1 }, [fakeRequest('GET /a', { id: 'r2', hot: 'two' })]);
    a.addRequests('s1', { pod: 'web-2', workload: 'web', pid: 1 }, [fakeRequest('GET /a', { id: 'r3', hot: 'three' })]);
    expect(a.tree('s1').totals.samples).toBe(30);
    expect(a.tree('s1', { pod: 'web-1' }).totals.samples).toBe(20);
    expect(a.tree('s1', { split: 'slow' }).totals.samples).toBe(30); // equal durations: all are ≥ p90
    // Reads never write: the merged trees they built reach the disk on a write path (here, persistTrees).
    expect(a.db.prepare('SELECT upto FROM session_trees').get()).toBeUndefined();
    expect(a.db.prepare('SELECT COUNT(*) AS n FROM pod_trees').get()).toEqual({ n: 0 });
    expect(a.persistTrees()).toBe(2); // the session tree and web-1's (web-2's was never read)
    expect(a.db.prepare('SELECT upto FROM session_trees').get()).toEqual({ upto: 3 });
    a.close();

    const b = open();
    b.addRequests('s1', { pod: 'web-2', workload: 'web', pid: 1 }, [fakeRequest('GET /a', { id: 'r4', hot: 'four' })]);
    const t = b.tree('s1');
    expect(t.totals.samples).toBe(40);
    expect(frameNames(t)).toEqual(['four', 'handler', 'helper', 'one', 'three', 'two']);
  });

  it('rebuilds a damaged cached tree from the requests', () => {
    const a = open();
    a.saveSession(sessionView('s1'));
    a.addRequests('s1', { pod: 'web-1', workload: 'web', pid: 1 }, [fakeRequest('GET /a', { id: 'r1' })]);
    a.tree('s1');
    a.close();
    const raw = new Database(file);
    raw.prepare('UPDATE session_trees SET tree = ?, upto = 0').run(Buffer.from('not zlib'));
    raw.close();
    const b = open();
    expect(b.tree('s1').totals.samples).toBe(10);
  });

  it('answers cluster-wide hotspots filtered by namespace, workload and request type', () => {
    const s = open();
    s.saveSession(sessionView('s1', { namespace: 'shop', request: 'GET /a' }));
    s.saveSession(sessionView('s2', { namespace: 'shop', request: 'GET /b' }));
    s.saveSession(sessionView('s3', { namespace: 'billing', request: 'GET /a' }));
    const req = (id: string, stacks: Parameters<typeof makeTree>[0]) => ({ ...fakeRequest('GET /a', { id }), tree: makeTree(stacks) });
    // s1: checkout spends 60 in parse (under render), 20 in render itself; cart spends 20 in parse.
    s.addRequests('s1', { pod: 'checkout-7d9f8b6c5-x2x9z', workload: 'checkout', pid: 1 }, [
      req('a', [
        { frames: ['render', 'parse'], samples: 6, wallUs: 60 },
        { frames: ['render'], samples: 2, wallUs: 20 },
      ]),
    ]);
    s.addRequests('s1', { pod: 'cart-5c4d-abcde', workload: 'cart', pid: 1 }, [req('b', [{ frames: ['parse'], samples: 2, wallUs: 20 }])]);
    s.addRequests('s2', { pod: 'checkout-7d9f8b6c5-x2x9z', workload: 'checkout', pid: 1 }, [req('c', [{ frames: ['encode'], samples: 5, wallUs: 50 }])]);
    s.addRequests('s3', { pod: 'ledger-0', workload: 'ledger', pid: 1 }, [
      req('d', [
        { frames: ['(waiting: I/O and timers)'], samples: 0, wallUs: 900, leafKind: 5 },
        { frames: ['post', 'post'], samples: 3, wallUs: 30 },
      ]),
    ]);

    const all = s.hotspots();
    expect(all.totalUs).toBe(60 + 20 + 20 + 50 + 900 + 30);
    expect(all.items.map((i) => [i.frame.name, i.selfUs])).toEqual([
      ['parse', 80],
      ['encode', 50],
      ['post', 30],
      ['render', 20],
    ]);
    const parse = all.items[0]!;
    expect(parse.selfPercent).toBeCloseTo((80 / 1080) * 100, 1);
    expect(parse.groups.map((g) => [g.namespace, g.workload, g.request, g.selfUs, g.sessions])).toEqual([
      ['shop', 'checkout', 'GET /a', 60, ['s1']],
      ['shop', 'cart', 'GET /a', 20, ['s1']],
    ]);

    const byTotal = s.hotspots({ by: 'total', namespace: 'shop' });
    expect(byTotal.totalUs).toBe(150);
    expect(byTotal.items[0]).toMatchObject({ frame: { name: 'parse' }, totalUs: 80 });
    expect(byTotal.items.find((i) => i.frame.name === 'render')).toMatchObject({ selfUs: 20, totalUs: 80 });

    expect(s.hotspots({ workload: 'cart' }).items.map((i) => i.frame.name)).toEqual(['parse']);
    expect(s.hotspots({ request: 'GET /b' }).items.map((i) => i.frame.name)).toEqual(['encode']);
    // Recursion counts once in total time.
    expect(s.hotspots({ namespace: 'billing', by: 'total' }).items).toEqual([expect.objectContaining({ frame: expect.objectContaining({ name: 'post' }), selfUs: 30, totalUs: 30 })]);
    expect(s.hotspots({ limit: 1 }).items).toHaveLength(1);

    // New requests invalidate the cached frame weights of their session.
    s.addRequests('s2', { pod: 'checkout-7d9f8b6c5-x2x9z', workload: 'checkout', pid: 1 }, [req('e', [{ frames: ['encode'], samples: 5, wallUs: 50 }])]);
    expect(s.hotspots({ request: 'GET /b' }).items[0]!.selfUs).toBe(100);
  });

  it('lists a function once in cluster hotspots whatever lines it was sampled at, across sessions', () => {
    const s = open();
    s.saveSession(sessionView('s1', { namespace: 'shop', request: 'GET /a' }));
    s.saveSession(sessionView('s2', { namespace: 'shop', request: 'GET /a' }));
    const tree = (line: number, other: number) => {
      const b = new CallTreeBuilder();
      b.addStack([makeFrame('handle', '/app/orders.js', 3), makeFrame('priceOrder', '/app/orders.js', line)], { samples: 31, wallUs: 310, cpuUs: 0 });
      b.addStack([makeFrame('handle', '/app/orders.js', 3), makeFrame('priceOrder', '/app/orders.js', other)], { samples: 1, wallUs: 10, cpuUs: 0 });
      return serializeTree(b.build());
    };
    s.addRequests('s1', { pod: 'orders-1', workload: 'orders', pid: 1 }, [{ ...fakeRequest('GET /a', { id: 'a' }), tree: tree(34, 24) }]);
    s.addRequests('s2', { pod: 'orders-1', workload: 'orders', pid: 1 }, [{ ...fakeRequest('GET /a', { id: 'b' }), tree: tree(40, 34) }]);
    const rows = s.hotspots().items.filter((i) => i.frame.name === 'priceOrder');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ frame: { line: 24 }, selfUs: 640, totalUs: 640 });
    expect(rows[0]!.groups[0]!.sessions.sort()).toEqual(['s1', 's2']);
  });

  it('purges finished sessions by age and by count, never running ones', () => {
    const clock = new ManualClock(Date.parse('2026-02-01T00:00:00Z'));
    const s = open(clock, { intervalMs: 0, maxAgeMs: 7 * 86_400_000, maxSessions: 2 });
    const day = (d: number): string => new Date(Date.parse('2026-02-01T00:00:00Z') - d * 86_400_000).toISOString();
    s.saveSession(sessionView('old', { phase: 'Completed', completedAt: day(10), createdAt: day(10) }));
    s.saveSession(sessionView('running-old', { phase: 'Running', createdAt: day(30) }));
    s.saveSession(sessionView('d3', { phase: 'Completed', completedAt: day(3), createdAt: day(3) }));
    s.saveSession(sessionView('d2', { phase: 'Failed', completedAt: day(2), createdAt: day(2) }));
    s.saveSession(sessionView('d1', { phase: 'Completed', completedAt: day(1), createdAt: day(1) }));
    s.addRequests('old', { pod: 'p', workload: 'w', pid: 1 }, [fakeRequest('GET /a')]);
    s.addRequests('d3', { pod: 'p', workload: 'w', pid: 1 }, [fakeRequest('GET /a')]);
    s.tree('old');
    s.saveCatalogue([
      { pod: { name: 'p', namespace: 'shop', uid: '' }, workload: 'p', labels: {}, runtime: 'node', runtimeVersion: 'v20', agentVersion: '0.1', entries: [], updatedAt: clock.now() - 8 * 86_400_000 },
      { pod: { name: 'q', namespace: 'shop', uid: '' }, workload: 'q', labels: { a: 'b' }, runtime: 'node', runtimeVersion: 'v20', agentVersion: '0.1', entries: [{ type: 'GET /a', count: 1, errors: 0, p50Ms: 1, p90Ms: 1, p99Ms: 1 }], updatedAt: clock.now() },
    ]);

    expect(s.purge()).toEqual({ sessions: 2, catalogue: 1 });
    expect(s.listSessions().map((v) => v.id).sort()).toEqual(['d1', 'd2', 'running-old']);
    expect(s.db.prepare('SELECT COUNT(*) AS n FROM requests').get()).toEqual({ n: 0 });
    expect(s.db.prepare('SELECT COUNT(*) AS n FROM session_trees').get()).toEqual({ n: 0 });
    expect(s.catalogueSnapshots().map((c) => [c.pod.name, c.labels, c.entries.length])).toEqual([['q', { a: 'b' }, 1]]);
  });

  it('runs the purge on its own timer', () => {
    const clock = new ManualClock(Date.parse('2026-02-01T00:00:00Z'));
    const s = open(clock, { intervalMs: 60_000, maxAgeMs: 1000, maxSessions: 10 });
    s.saveSession(sessionView('done', { phase: 'Completed', completedAt: '2026-01-31T00:00:00Z' }));
    clock.advance(59_000);
    expect(s.getSession('done')).toBeDefined();
    clock.advance(1000);
    expect(s.getSession('done')).toBeUndefined();
  });

  it('deletes one session with everything stored for it', () => {
    const s = open();
    s.saveSession(sessionView('s1'));
    s.saveSession(sessionView('s2'));
    s.addRequests('s1', { pod: 'p', workload: 'w', pid: 1 }, [fakeRequest('GET /a')]);
    s.addRequests('s2', { pod: 'p', workload: 'w', pid: 1 }, [fakeRequest('GET /a')]);
    s.tree('s1');
    expect(s.deleteSession('s1')).toBe(true);
    expect(s.deleteSession('s1')).toBe(false);
    expect(s.tree('s1').size).toBe(1);
    expect(s.requests('s2')).toHaveLength(1);
  });

  it('refuses a store written by a newer schema', () => {
    open().close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => open()).toThrow(/newer Sonde/);
  });
});
