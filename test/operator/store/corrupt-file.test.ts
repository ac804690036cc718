import { existsSync, readdirSync, readFileSync, writeFileSync, openSync, writeSync, closeSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../../operator/store/sqlite-store.js';
import { fakeRequest } from '../../harness/fake-agent.js';
import { sessionView, tempDir } from './store-fixtures.js';

/** A damaged store file at start is moved aside with one clear log line; a fresh store opens. */
class Lines extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) this.lines.push(JSON.parse(l) as Record<string, unknown>);
    done();
  }
}

const dirs: { cleanup(): void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.cleanup();
});

function open(file: string, sink: Lines): SqliteStore {
  return new SqliteStore({ file, log: pino({ level: 'info' }, sink), retention: { intervalMs: 0 }, reserveBytes: 0 });
}

describe('a corrupt database file', () => {
  it('garbage where the database should be: moved aside, a fresh store opens, one error line says where', () => {
    const d = tempDir();
    dirs.push(d);
    const file = join(d.dir, 'sonde.db');
    const garbage = Buffer.from('this is not a SQLite database at all\n'.repeat(200));
    writeFileSync(file, garbage);
    const sink = new Lines();
    const store = open(file, sink);
    store.saveSession(sessionView('s1'));
    expect(store.listSessions().map((s) => s.id)).toEqual(['s1']);
    store.close();
    const aside = readdirSync(d.dir).filter((f) => f.startsWith('sonde.db.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(d.dir, aside[0]!))).toEqual(garbage);
    const errors = sink.lines.filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ file, movedTo: join(d.dir, aside[0]!), msg: expect.stringMatching(/damaged: moved it aside/) });
  });

  it('a real database with garbage written over its pages: found at start by the quick check', () => {
    const d = tempDir();
    dirs.push(d);
    const file = join(d.dir, 'sonde.db');
    const first = open(file, new Lines());
    first.saveSession(sessionView('s1'));
    for (let i = 0; i < 20; i++) first.addRequests('s1', { pod: 'web-1', workload: 'web', pid: 1 }, Array.from({ length: 20 }, (_, j) => fakeRequest('GET /a', { id: `r${i}-${j}` })));
    first.close();
    // Keep the header (page 1) intact so SQLite opens it; smash pages in the middle.
    const size = statSync(file).size;
    expect(size).toBeGreaterThan(8 * 4096);
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(3 * 4096, 0xa5), 0, 3 * 4096, 4 * 4096);
    closeSync(fd);
    const sink = new Lines();
    const store = open(file, sink);
    expect(store.listSessions()).toEqual([]);
    store.close();
    expect(readdirSync(d.dir).some((f) => f.startsWith('sonde.db.corrupt-'))).toBe(true);
    expect(sink.lines.filter((l) => l.level === 50)).toHaveLength(1);
  });

  it('a sound file is kept as it is', () => {
    const d = tempDir();
    dirs.push(d);
    const file = join(d.dir, 'sonde.db');
    const a = open(file, new Lines());
    a.saveSession(sessionView('s1'));
    a.close();
    const sink = new Lines();
    const b = open(file, sink);
    expect(b.listSessions().map((s) => s.id)).toEqual(['s1']);
    b.close();
    expect(existsSync(file)).toBe(true);
    expect(readdirSync(d.dir).some((f) => f.includes('corrupt'))).toBe(false);
    expect(sink.lines.filter((l) => (l.level as number) >= 50)).toEqual([]);
  });
});
