import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SondeError } from '../../../src/errors.js';
import { Engine } from '../../../operator/engine/engine.js';
import { AgentHub } from '../../../operator/hub/agent-hub.js';
import { HelloLabelDirectory } from '../../../operator/hub/hello-label-directory.js';
import { sharedTokenAuthenticator } from '../../../operator/standalone/shared-token.js';
import { SqliteStore } from '../../../operator/store/sqlite-store.js';
import type { StoreHealthSnapshot } from '../../../operator/store/store-health.js';
import { fakeRequest, makeTree } from '../../harness/fake-agent.js';
import { sessionView } from './store-fixtures.js';

/**
 * A full disk, for real: a 16 MiB tmpfs mounted here (the tests run as root). Where mounting is refused,
 * SQLite's max_page_count stands in for the disk's size (the test names which it used). The store
 * must refuse writes visibly (SONDE_STORE_FULL, a metric, a condition on running sessions, one log
 * line), keep answering reads without writing, and let retention free space with its reserve.
 */
const DISK_BYTES = 16 * 1024 * 1024;
const root = mkdtempSync(join(tmpdir(), 'sonde-full-'));
let mounted = false;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${DISK_BYTES}`, 'tmpfs', root], { stdio: 'ignore' });
  mounted = true;
} catch {
  mounted = false;
}
const how = mounted ? `a ${DISK_BYTES >> 20} MiB tmpfs` : 'max_page_count (mounting a tmpfs was refused)';

class Lines extends Writable {
  readonly lines: { msg?: string; level?: number }[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) this.lines.push(JSON.parse(l));
    done();
  }
  count(text: string): number {
    return this.lines.filter((l) => l.msg?.includes(text)).length;
  }
}

/** Requests whose trees do not compress: random frame names. */
function bulky(n: number, prefix: string): ReturnType<typeof fakeRequest>[] {
  return Array.from({ length: n }, (_, i) => ({
    ...fakeRequest('GET /a', { id: `${prefix}-${i}-${randomBytes(4).toString('hex')}` }),
    tree: makeTree(Array.from({ length: 40 }, () => ({ frames: ['handler', randomBytes(24).toString('hex'), randomBytes(24).toString('hex')], samples: 1, wallUs: 1000 }))),
  }));
}

const sizes = (file: string): string => ['', '-wal'].map((s) => (existsSync(file + s) ? `${statSync(file + s).size}:${statSync(file + s).mtimeMs}` : '-')).join('/');

let store: SqliteStore;
let engine: Engine;
let hub: AgentHub;
const logs = new Lines();
const file = join(root, 'data', 'sonde.db');
const transitions: StoreHealthSnapshot[] = [];

beforeAll(() => {
  const log = pino({ level: 'info' }, logs);
  store = new SqliteStore({ file, log, retention: { intervalMs: 0 }, reserveBytes: 4 * 1024 * 1024 });
  if (!mounted) store.db.pragma(`max_page_count = ${DISK_BYTES / 4096}`);
  store.onStoreHealth((h) => transitions.push(h));
  hub = new AgentHub({ authenticator: sharedTokenAuthenticator(undefined), log });
  engine = new Engine({ hub, store, podDirectory: new HelloLabelDirectory(hub), log, baseURL: 'http://x' });
});

afterAll(async () => {
  await hub.close();
  engine.close();
  store.close();
  if (mounted) execFileSync('umount', [root]);
  rmSync(root, { recursive: true, force: true });
});

describe(`a full disk (${how})`, () => {
  it('refuses writes visibly, keeps reads working without writing, and frees space through retention', () => {
    // An old finished session holding about a third of the disk: what retention will free.
    store.saveSession(sessionView('old', { phase: 'Completed', completedAt: '2026-01-01T00:01:00.000Z' }));
    for (let i = 0; i < 5; i++) store.addRequests('old', { pod: 'web-0', workload: 'web', pid: 1 }, bulky(20, `old${i}`));
    // Hotspot weights are a derived table: stored here, while there is room.
    expect(store.hotspots({ limit: 5 }).items.length).toBeGreaterThan(0);
    // A running session, through the engine, so its status can carry the condition.
    const live = engine.apply({ id: 'live', namespace: 'shop', name: 'live', source: 'api', generation: 1, createdAt: new Date().toISOString(), spec: { request: 'GET /a', requests: 10_000 } });
    expect(live.status.phase).not.toBe('Failed');
    store.saveSession(live); // the engine writes it on its next status emission; the test needs it now

    let refused: SondeError | undefined;
    let batches = 0;
    for (; batches < 500 && !refused; batches++) {
      try {
        store.addRequests('live', { pod: 'web-1', workload: 'web', pid: 1 }, bulky(20, `live${batches}`));
      } catch (err) {
        refused = err as SondeError;
      }
    }
    expect(refused, `no refusal after ${batches} batches`).toBeInstanceOf(SondeError);
    expect(refused!.code).toBe('SONDE_STORE_FULL');
    // Nothing of the refused batch was kept (one transaction), and more refusals log nothing more.
    const stored = store.requests('live').length;
    for (let i = 0; i < 5; i++) expect(() => store.addRequests('live', { pod: 'web-1', workload: 'web', pid: 1 }, bulky(20, `again${i}`))).toThrow(/store cannot write/);
    expect(store.requests('live').length).toBe(stored);
    expect(logs.count('the store cannot write')).toBe(1);
    // The engine's status writes of the running session fail too, quietly (debug), not one error each.
    expect(logs.lines.filter((l) => l.msg === 'session status could not be stored' && (l.level ?? 0) >= 50)).toEqual([]);
    // Six refused batches, plus the engine's status writes of the running session.
    expect(store.storeHealth()).toMatchObject({ writable: false, failedWrites: expect.any(Number) });
    expect(store.storeHealth().failedWrites).toBeGreaterThanOrEqual(6);
    expect(transitions.map((t) => t.writable)).toEqual([false]);

    // The running session says why it stopped counting.
    const view = engine.get('live')!;
    expect(view.status.conditions.find((c) => c.type === 'StoreWritable')).toMatchObject({ status: 'False', reason: 'StoreFull' });

    // Reads answer, and write nothing.
    const before = sizes(file);
    expect(store.tree('live').totals.samples).toBeGreaterThan(0);
    expect(store.tree('live', { pod: 'web-1' }).totals.samples).toBeGreaterThan(0);
    expect(store.tree('live', { split: 'slow' }).totals.samples).toBeGreaterThan(0);
    expect(store.requests('old')).toHaveLength(100);
    expect(store.listSessions().map((s) => s.id).sort()).toEqual(['live', 'old']);
    // Hotspots: the live session's weights were never stored; they are computed in memory, not written.
    const hot = store.hotspots({ limit: 1000 });
    expect(hot.items.some((i) => i.groups.some((g) => g.sessions.includes('live')))).toBe(true);
    expect(hot.items.some((i) => i.groups.some((g) => g.sessions.includes('old')))).toBe(true);
    expect(store.db.prepare("SELECT COUNT(*) AS n FROM workload_stats WHERE session = 'live'").get()).toEqual({ n: 0 });
    expect(sizes(file)).toBe(before);

    // Retention frees the old session, on a disk with no room left for the delete itself.
    expect(store.purge(Date.parse('2026-02-01T00:00:00Z')).sessions).toBe(1);
    expect(store.getSession('old')).toBeUndefined();
    store.addRequests('live', { pod: 'web-1', workload: 'web', pid: 1 }, bulky(20, 'after'));
    expect(store.storeHealth().writable).toBe(true);
    expect(transitions.map((t) => t.writable)).toEqual([false, true]);
    expect(logs.count('the store writes again')).toBe(1);
    expect(engine.get('live')!.status.conditions.find((c) => c.type === 'StoreWritable')).toBeUndefined();
  });
});
