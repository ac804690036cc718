import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { emptyCards, expectPainted, largestBlackArea, launch, MAX_BLACK_AREA, unpaintedCanvases } from './browser.js';

/**
 * The checks every UI test runs on the pages it visits (`expectPainted`, from `shot` and `close`),
 * tried on pages made to hold each defect: they must catch it, and pass a page without it.
 */

let browser: Browser;

beforeAll(async () => {
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
});

async function pageWith(html: string) {
  const context = await browser.newContext({ viewport: { width: 800, height: 600 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  await page.setContent(`<!doctype html><body style="margin:0;background:#f5f6f8">${html}</body>`);
  return { page, close: () => context.close() };
}

describe('paint checks of the UI tests', () => {
  it('catch an opaque canvas that was never drawn (the black 300×150 rectangle)', async () => {
    const { page, close } = await pageWith('<div class="flame"><canvas></canvas></div><script>document.querySelector("canvas").getContext("2d", { alpha: false });</script>');
    const found = await unpaintedCanvases(page);
    expect(found).toHaveLength(1);
    // (Chromium reads an opaque canvas that was never drawn back as transparent; the screen shows black)
    expect(found[0], JSON.stringify(found)).toMatchObject({ where: 'flame', width: 300, height: 150 });
    const black = await largestBlackArea(page, await page.screenshot());
    expect(black.area).toBeGreaterThan(280 * 140);
    await expect(expectPainted(page)).rejects.toThrow(/unpainted canvas/);
    await close();
  });

  it('catch a large black area that is not a canvas, and a card with nothing in it', async () => {
    const { page, close } = await pageWith('<div style="width:120px;height:60px;background:#000"></div>');
    expect((await largestBlackArea(page, await page.screenshot())).area).toBeGreaterThan(MAX_BLACK_AREA);
    await expect(expectPainted(page)).rejects.toThrow(/uniform black area/);
    await close();
    const cards = await pageWith('<section class="card hotspots-card" aria-label="Hotspots" style="height:30px;border:1px solid #ccc"></section>');
    expect(await emptyCards(cards.page)).toEqual(['card hotspots-card (Hotspots)']);
    await expect(expectPainted(cards.page)).rejects.toThrow(/empty card/);
    await cards.close();
  });

  it('pass a drawn canvas, black text, a hidden unpainted canvas and a card with content', async () => {
    const { page, close } = await pageWith(`
      <section class="card"><h2 style="font:bold 28px sans-serif;color:#000">Call tree — all 263 requests</h2>
        <canvas id="drawn" width="300" height="40"></canvas>
        <canvas hidden width="300" height="150"></canvas>
      </section>
      <script>
        const c = document.getElementById('drawn').getContext('2d', { alpha: false });
        c.fillStyle = '#fff'; c.fillRect(0, 0, 300, 40); c.fillStyle = '#e08060'; c.fillRect(0, 20, 200, 17);
        document.querySelector('canvas[hidden]').getContext('2d', { alpha: false });
      </script>`);
    expect(await unpaintedCanvases(page)).toEqual([]);
    expect(await emptyCards(page)).toEqual([]);
    await expectPainted(page);
    await close();
  });
});
