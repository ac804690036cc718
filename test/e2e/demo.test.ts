import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, Proc, ROOT, eventually, freePort, missingBuild, stopAll } from './processes.js';

const missing = missingBuild() ?? (existsSync(join(ROOT, 'dist/ui/index.html')) ? undefined : 'dist/ui is missing: run `npm run build`');

afterAll(stopAll);

/** The README's first command, as a newcomer runs it (with --once so it ends). */
describe.skipIf(missing)('sonde demo --once', () => {
  it('starts everything, profiles the demo type, serves the UI at the printed URL, and exits 0', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'demo', '--once', '--port', String(port), '--requests', '150'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const demo = new Proc(child, 'demo');
    const url = await eventually(() => {
      if (!demo.running) throw new Error(`demo exited early: ${demo.out}`);
      return /Open (http:\/\/127\.0\.0\.1:\d+\/#\/sessions\/[0-9a-f-]+)/.exec(demo.out)?.[1];
    }, 60_000, 'the UI URL');
    expect(url.startsWith(`http://127.0.0.1:${port}/#/sessions/`)).toBe(true);

    // The page behind the URL (the fragment stays in the browser) and the session it names.
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toMatch(/<script[^>]+app\.js/);
    const id = url.split('/').pop()!;
    const session = (await (await fetch(`http://127.0.0.1:${port}/api/v1/sessions/${id}`)).json()) as { spec: { request: string } };
    expect(session.spec.request).toBe('GET /api/orders/:id');

    const code = await demo.exited;
    expect(code, demo.out).toBe(0);
    expect(demo.out).toMatch(/session Completed \d+\/150/);
    expect(demo.out).toMatch(/Top self time:\n(.*\n)*.*priceOrder .*sample-app\.js/);
    expect(demo.out.match(/Top self time:/g)).toHaveLength(1);
  });
});

/** `--duration`: the result is printed once when the session ends, then the demo says the UI stays up. */
describe.skipIf(missing)('sonde demo --duration', () => {
  it('prints the result once, says the UI keeps running and for how long, and exits 0 when the duration ends', async () => {
    const port = await freePort();
    const started = Date.now();
    const child = spawn(process.execPath, [CLI, 'demo', '--duration', '25s', '--port', String(port), '--requests', '40'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const demo = new Proc(child, 'demo');
    // The session (40 requests) completes well before the 25 s are up; the demo then waits them out.
    await eventually(() => {
      if (!demo.running) throw new Error(`demo exited early: ${demo.out}`);
      return /The UI keeps running at http:\/\/127\.0\.0\.1:\d+\/#\/sessions\/[0-9a-f-]+ for \d+ s more \(--duration\)/.test(demo.out) || undefined;
    }, 60_000, 'the "UI keeps running" line');
    // Still serving the UI while it waits, and printing nothing more.
    const printed = demo.out;
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2000));
    expect(demo.out).toBe(printed);
    const code = await demo.exited;
    expect(code, demo.out).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25_000);
    expect(demo.out.match(/Top self time:/g), demo.out).toHaveLength(1);
    expect(demo.out.match(/ session Completed \d+\/40/g), demo.out).toHaveLength(1);
    // Everything after the result block: one blank line, the one "keeps running" line, nothing else.
    const tail = demo.out.slice(demo.out.indexOf('Top self time:')).split('\n').slice(1);
    const rest = tail.filter((l) => !/^ {4}\s*\d+\.\d%  /.test(l));
    expect(rest.filter((l) => l.trim() !== '')).toEqual([expect.stringMatching(/^  The UI keeps running at /)]);
  }, 90_000);
});
