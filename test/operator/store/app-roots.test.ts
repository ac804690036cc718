import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../../operator/store/schema.js';
import { ROOTS_SQL, type SqliteStore } from '../../../operator/store/sqlite-store.js';
import { fakeRequest } from '../../harness/fake-agent.js';
import { openStore, sessionView, tempDir } from './store-fixtures.js';

/** Each request keeps the application root its agent reported (hello `agent.root`), on disk. */
let tmp: ReturnType<typeof tempDir>;
let file: string;
const stores: SqliteStore[] = [];
const open = (): SqliteStore => {
  const s = openStore(file);
  stores.push(s);
  return s;
};

beforeEach(() => {
  tmp = tempDir();
  file = join(tmp.dir, 'sonde.db');
});
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  tmp.cleanup();
});

describe('application roots in the store', () => {
  it('lists the roots of a session and of one pod, sorted and once each, across a reopen', () => {
    const a = open();
    a.saveSession(sessionView('s1'));
    a.saveSession(sessionView('s2'));
    a.addRequests('s1', { pod: 'web-1', workload: 'web', pid: 1, root: '/srv/shop' }, [fakeRequest('GET /a'), fakeRequest('GET /a')]);
    a.addRequests('s1', { pod: 'web-2', workload: 'web', pid: 1, root: '/app' }, [fakeRequest('GET /a')]);
    a.addRequests('s1', { pod: 'web-3', workload: 'web', pid: 1 }, [fakeRequest('GET /a')]);
    a.addRequests('s2', { pod: 'web-1', workload: 'web', pid: 1, root: '/other' }, [fakeRequest('GET /a')]);
    expect(a.roots('s1')).toEqual(['/app', '/srv/shop']);
    expect(a.roots('s1', { pod: 'web-1' })).toEqual(['/srv/shop']);
    expect(a.roots('s1', { pod: 'web-3' })).toEqual([]);
    expect(a.roots('nope')).toEqual([]);
    a.close();
    stores.length = 0;

    // An operator restart reads them back from the file.
    const b = open();
    expect(b.roots('s1')).toEqual(['/app', '/srv/shop']);
    expect(b.roots('s2')).toEqual(['/other']);
    // Deleting a session takes its roots with its requests.
    b.deleteSession('s1');
    expect(b.roots('s1')).toEqual([]);
  });

  it('answers from the covering index: a root after the tree BLOB is never read from the table', () => {
    const s = open();
    for (const [sql, args] of [[ROOTS_SQL.session, ['s1']], [ROOTS_SQL.pod, ['s1', 'p']]] as const) {
      const plan = (s.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[]).map((r) => r.detail).join('; ');
      expect(plan).toMatch(/USING COVERING INDEX requests_roots/);
    }
  });

  it('migrates a store of the schema before roots: its requests keep no root, new ones do', () => {
    const a = open();
    a.saveSession(sessionView('s1'));
    a.addRequests('s1', { pod: 'web-1', workload: 'web', pid: 1 }, [fakeRequest('GET /a', { id: 'old' })]);
    a.close();
    stores.length = 0;
    // Take the file back to the schema that had no root column, as an older Sonde wrote it.
    const raw = new Database(file);
    raw.exec('DROP INDEX requests_roots; ALTER TABLE requests DROP COLUMN root');
    raw.pragma(`user_version = ${SCHEMA_VERSION - 1}`);
    raw.close();

    const b = open();
    expect(b.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(b.requests('s1').map((r) => r.id)).toEqual(['old']);
    expect(b.roots('s1')).toEqual([]);
    b.addRequests('s1', { pod: 'web-1', workload: 'web', pid: 2, root: '/srv/shop' }, [fakeRequest('GET /a', { id: 'new' })]);
    expect(b.roots('s1')).toEqual(['/srv/shop']);
  });
});
