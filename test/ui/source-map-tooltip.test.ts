import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { SerializedTree } from '../../src/model/serialized.js';
import type { SessionView } from '../../src/session/types.js';
import { bars, checkPrerequisites, fixtures, hoverBar, launch, recorded, serve, shot, unexpectedErrors, type Fixtures, type ReplayServer } from './browser.js';

/**
 * A frame the agent resolved through a source map says so in the flame graph's tooltip, with the
 * compiled file it came from. The recorded session's tree is served with its hot frame marked as
 * mapped (the wire form's `mapped` pairs), as an agent on a TypeScript service sends it.
 */
let browser: Browser;
let f: Fixtures;
let srv: ReplayServer;

beforeAll(async () => {
  checkPrerequisites();
  browser = await launch();
  f = fixtures('standalone');
  srv = await serve(f);
});

afterAll(async () => {
  await srv?.close();
  await browser?.close();
});

describe('source-mapped frames in the UI', () => {
  it('the tooltip of a mapped frame names the compiled file; an unmapped one says nothing of maps', async () => {
    const id = f.meta['sessions'].orders;
    const hot = recorded<SessionView>(f, `/api/v1/sessions/${id}`).status.hotspots[0]!.frame;
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    const mappedFrames: number[] = [];
    await page.route(/\/api\/v1\/sessions\/[^/]+\/tree/, async (route) => {
      const res = await route.fetch();
      const body = (await res.json()) as { tree: SerializedTree };
      const t = body.tree;
      const name = hot.split(' ')[0]!;
      t.strings.push('/app/dist/server.js');
      t.mapped = [];
      // Every frame of the hot function (one per line sampled) came through the map.
      for (let i = 0; i < t.frames.length / 5; i++) {
        if (t.strings[t.frames[i * 5]!] !== name) continue;
        mappedFrames.push(i);
        t.mapped.push(i, t.strings.length - 1);
      }
      await route.fulfill({ response: res, json: body });
    });
    await page.goto(`${srv.url}#/sessions/${id}`);
    await page.waitForSelector('.chart-card .flame-bars li');
    expect(mappedFrames.length).toBeGreaterThan(0);
    const drawn = await bars(page);
    const tip = page.locator('.chart-card .flame-tip');

    await hoverBar(page, drawn.find((b) => b.label === hot)!);
    await tip.waitFor({ state: 'visible' });
    expect((await tip.innerText()).replace(/\s+/g, ' ')).toContain('via source map, compiled: dist/server.js');
    await shot(page, 'session-tooltip-source-map');

    const other = drawn.find((b) => b.node !== 0 && b.label !== hot && b.w > 40)!;
    await hoverBar(page, other);
    await expect.poll(async () => (await tip.innerText()).includes(other.label.split(' ')[0]!)).toBe(true);
    expect(await tip.innerText()).not.toContain('source map');
    expect(unexpectedErrors(errors)).toEqual([]);
    await context.close();
  });
});
