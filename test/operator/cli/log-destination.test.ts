import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../operator/clock.js';
import { LogDestination } from '../../../operator/log-destination.js';

const dir = mkdtempSync(join(tmpdir(), 'sonde-logdest-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('LogDestination', () => {
  it('writes every line in order to a file, batched off the hot path, and flushSync writes the rest', async () => {
    const file = join(dir, 'log.ndjson');
    const fd = openSync(file, 'w');
    const dest = new LogDestination({ fd, clock: systemClock });
    const log = pino({ base: null, timestamp: false }, dest);
    for (let i = 0; i < 1000; i++) log.info({ i }, 'line');
    // Nothing written synchronously by a log call.
    expect(readFileSync(file, 'utf8')).toBe('');
    await new Promise((r) => setImmediate(r));
    log.info({ i: 1000 }, 'line');
    dest.flushSync();
    closeSync(fd);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { i: number });
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 1001 }, (_, i) => i));
    expect(dest.state).toBe('open');
  });

  it('a pipe whose reader is gone breaks the destination (EPIPE): lines are dropped, flushSync returns', async () => {
    // A real child whose stdin we write: it closes its stdin at once (the reader is gone) and lives on.
    const child = spawn('sh', ['-c', 'exec 0<&-; echo closed; sleep 30'], { stdio: ['pipe', 'pipe', 'ignore'] });
    const fd = (child.stdin as unknown as { _handle: { fd: number } })._handle.fd;
    await new Promise((r) => child.stdout!.once('data', r));
    const dest = new LogDestination({ fd, clock: systemClock });
    dest.write('{"msg":"one"}\n');
    const t0 = Date.now();
    dest.flushSync();
    expect(Date.now() - t0).toBeLessThan(500);
    expect(dest.state).toBe('broken');
    expect(dest.brokenBy).toMatch(/EPIPE|ECONNRESET/);
    dest.write('{"msg":"two"}\n');
    dest.flushSync();
    expect(dest.dropped).toBe(2);
    child.kill('SIGKILL');
    child.stdin!.destroy();
  });

  it('a pipe that stays full is waited on only until the deadline, then what is left is dropped', async () => {
    // A real child that never reads its stdin: the socket fills (non-blocking: EAGAIN).
    const child = spawn('sleep', ['30'], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      const stdin = child.stdin as unknown as Socket & { _handle: { fd: number } };
      const fd = stdin._handle.fd;
      const dest = new LogDestination({ fd, clock: systemClock, flushSyncTimeoutMs: 200 });
      const line = 'x'.repeat(1023) + '\n';
      for (let i = 0; i < 4096; i++) dest.write(line); // 4 MiB: far more than a socket buffer holds
      const t0 = Date.now();
      dest.flushSync();
      const took = Date.now() - t0;
      expect(took).toBeGreaterThanOrEqual(190);
      expect(took).toBeLessThan(2000);
      expect(dest.state).toBe('open');
      expect(dest.dropped).toBeGreaterThan(0);
    } finally {
      child.kill('SIGKILL');
      child.stdin!.destroy();
    }
  });
});
