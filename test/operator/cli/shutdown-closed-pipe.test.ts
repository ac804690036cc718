import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, missingBuild } from '../../e2e/processes.js';

/**
 * `sonde operator | head -3`, then SIGTERM: the reader has taken its three lines and closed the pipe,
 * so the shutdown's log lines meet EPIPE. Before LogDestination, pino's flush spun on EPIPE forever
 * (the second signal and the 10 s forced exit could not run). A real process; this test plays head:
 * it reads three lines from the operator's stdout, then closes its end.
 */
const dir = mkdtempSync(join(tmpdir(), 'sonde-pipe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(missingBuild())('operator shutdown with its stdout closed', () => {
  it('exits promptly on SIGTERM after the reader of its stdout went away', async () => {
    const child = spawn(process.execPath, [CLI, 'operator', '--standalone', '--port', '0', '--data', join(dir, 'data')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    try {
      let out = '';
      const lines = (): string[] => out.split('\n').filter(Boolean);
      const threeLines = new Promise<void>((resolve) => {
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (lines().length >= 3) {
            // head -3: exit, closing the pipe.
            child.stdout.destroy();
            resolve();
          }
        });
      });
      const started = Date.now();
      while (!out.includes('"msg":"operator listening"')) {
        if (Date.now() - started > 15_000) throw new Error(`operator did not start: ${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      child.kill('SIGTERM');
      await threeLines;
      expect(lines()[2]).toContain('"msg":"signal received"');
      const t0 = Date.now();
      const result = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 5000))]);
      expect(result, 'the operator still runs 5 s after SIGTERM').toEqual({ code: 0, signal: null });
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);
});
