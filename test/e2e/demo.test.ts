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
  });
});
