import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { diffTrees } from '../../src/model/diff.js';
import { frameLabel } from '../../src/model/frame.js';
import { deserializeTree, type SerializedTree } from '../../src/model/serialized.js';
import type { SessionView } from '../../src/session/types.js';
import { DIFF_STEPS } from '../../ui/flame/palette.js';
import { bars, checkPrerequisites, expectPainted, fixtures, launch, openPage, recorded, serve, shot, unexpectedErrors, type Fixtures, type ReplayServer } from './browser.js';

/** The compare page and the cluster-wide hotspots page in a real Chromium, on recorded sessions. */

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

const param = (page: Page, name: string): string | null => new URLSearchParams(new URL(page.url()).hash.split('?')[1] ?? '').get(name);
type HotspotsBody = { items: { frame: { name: string; file: string; line: number }; selfPercent: number; groups: { workload: string; request: string; sessions: string[] }[] }[]; totalUs: number };

describe('compare page', () => {
  it('asks for two sessions, then draws them as a differential flame graph coloured by the model', async () => {
    const { orders, ordersAfter } = f.meta['sessions'];
    const { page, errors, close } = await openPage(browser, `${srv.url}#/compare`);
    await page.waitForSelector('select[name=base] option[value]:not([value=""])', { state: 'attached' });
    expect(await page.textContent('.chart-card .state-empty h2')).toBe('Pick two sessions');
    await page.selectOption('select[name=base]', orders);
    await page.selectOption('select[name=new]', ordersAfter);
    await page.waitForSelector('.chart-card .flame-bars li');
    expect(param(page, 'base')).toBe(orders);
    expect(param(page, 'new')).toBe(ordersAfter);
    expect(await page.textContent('.legend-diff')).toContain('more in new');
    const tree = (id: string) => deserializeTree(recorded<{ tree: SerializedTree }>(f, `/api/v1/sessions/${id}/tree`).tree);
    const d = diffTrees(tree(orders), tree(ordersAfter));
    const drawn = (await bars(page)).filter((b) => b.node > 0);
    expect(drawn.length).toBeGreaterThan(3);
    for (const b of drawn) {
      expect(b.label).toBe(frameLabel(d.tree.frame(b.node)!));
      const delta = d.delta.total[b.node]!;
      if (delta > 0.01) expect(b.color).toBeGreaterThan(DIFF_STEPS);
      if (delta < -0.01) expect(b.color).toBeLessThan(DIFF_STEPS);
    }
    const names = recorded<{ items: SessionView[] }>(f, '/api/v1/sessions').items;
    const nameOf = (id: string) => names.find((s) => s.id === id)!.name;
    expect(await page.textContent('.chart-card h2')).toBe(`default/${nameOf(ordersAfter)} vs default/${nameOf(orders)}`);
    await shot(page, 'compare');
    // swap, and the URL alone reopens it
    await page.click('button:has-text("Swap")');
    await page.waitForFunction((id) => new URLSearchParams(location.hash.split('?')[1]).get('base') === id, ordersAfter);
    await page.waitForFunction((n) => document.querySelector('.chart-card h2')?.textContent?.startsWith(`default/${n} vs`), nameOf(orders));
    const url = page.url();
    await page.goto('about:blank');
    await page.goto(url);
    await page.waitForSelector('.chart-card .flame-bars li');
    expect(await page.inputValue('select[name=base]')).toBe(ordersAfter);
    expect(unexpectedErrors(errors)).toEqual([]);
    expect(srv.unmatched).toEqual([]);
    await close();
  });
});

describe('compare page before and without a graph', () => {
  it('says it is loading while the trees come, and with a session that profiled nothing offers only the reason', async () => {
    const { orders, ordersAfter, waiting } = f.meta['sessions'];
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    await page.route(/\/api\/v1\/sessions\/[^/]+\/tree/, async (route) => {
      await held;
      await route.continue();
    });
    await page.goto(`${srv.url}#/compare?base=${orders}&new=${ordersAfter}`);
    await page.waitForSelector('.chart-card .state-loading');
    expect(await page.textContent('.chart-card .state-loading')).toBe('Loading both sessions…');
    await shot(page, 'compare-loading');
    release();
    await page.waitForSelector('.chart-card .flame-bars li');
    await expectPainted(page);
    await context.close();

    const { page: p2, errors, close } = await openPage(browser, `${srv.url}#/compare?base=${orders}&new=${waiting}`);
    await p2.waitForSelector('.chart-card .state-empty');
    expect(await p2.textContent('.chart-card .state-empty h2')).toBe('Nothing to compare yet');
    await expect(p2.locator('.chart-card .exports').count()).resolves.toBe(0);
    await expect(p2.locator('.chart-card .legend-diff').count()).resolves.toBe(0);
    await expect(p2.locator('.toolbar').isVisible()).resolves.toBe(false);
    await shot(p2, 'compare-nothing');
    expect(unexpectedErrors(errors)).toEqual([]);
    expect(srv.unmatched).toEqual([]);
    await close();
  });
});

describe('hotspots page', () => {
  it('lists the top functions by self time across sessions, grouped by workload and request type, linked to their sessions', async () => {
    const { page, errors, close } = await openPage(browser, `${srv.url}#/hotspots`);
    await page.waitForSelector('table.hotspots-global tbody tr');
    const body = recorded<HotspotsBody>(f, '/api/v1/hotspots');
    const rows = await page.$$eval('table.hotspots-global tbody tr', (trs) => trs.map((tr) => ({ name: tr.querySelector('.fn-name')?.textContent ?? '', self: tr.querySelector('.share-text')?.textContent ?? '', groups: tr.querySelectorAll('.groups li').length })));
    expect(rows.map((r) => r.name)).toEqual(body.items.map((i) => i.frame.name));
    expect(rows.map((r) => r.self)).toEqual(body.items.map((i) => (i.selfPercent > 0 && i.selfPercent < 0.1 ? '<0.1%' : `${i.selfPercent.toFixed(1)}%`)));
    expect(rows.map((r) => r.groups)).toEqual(body.items.map((i) => i.groups.length));
    // the demo's three hot functions are all there
    for (const fn of ['priceOrder', 'rankSearchResults', 'sealReceipt']) expect(rows.some((r) => r.name === fn), fn).toBe(true);
    await shot(page, 'hotspots');
    // a session link opens the session with the function highlighted
    const link = page.locator('table.hotspots-global tr:has(.fn-name:text-is("priceOrder")) .group-sessions a').first();
    await link.click();
    await page.waitForSelector('.chart-card .flame-bars li');
    await page.waitForFunction(() => /of total/.test(document.querySelector('.search-summary')?.textContent ?? ''));
    expect(param(page, 'q')).toMatch(/^priceOrder /);
    expect(unexpectedErrors(errors)).toEqual([]);
    await close();
  });

  it('filters by namespace, workload and request type, from the URL too, and says when nothing matches', async () => {
    const { page, errors, close } = await openPage(browser, `${srv.url}#/hotspots`);
    await page.waitForSelector('table.hotspots-global tbody tr');
    await page.fill('input[name=request]', 'GET /api/search');
    await page.click('form.filters button[type=submit]');
    await page.waitForFunction(() => new URLSearchParams(location.hash.split('?')[1]).get('request') === 'GET /api/search');
    const body = recorded<HotspotsBody>(f, '/api/v1/hotspots', { request: 'GET /api/search' });
    await page.waitForFunction((first) => document.querySelector('table.hotspots-global tbody tr .fn-name')?.textContent === first, body.items[0]!.frame.name);
    expect(body.items[0]!.frame.name).toBe('rankSearchResults');
    const groups = await page.$$eval('table.hotspots-global .group-what', (els) => els.map((e) => e.textContent ?? ''));
    expect(groups.every((g) => g.includes('GET /api/search'))).toBe(true);
    // every filter together, straight from a URL
    await page.goto(`${srv.url}#/hotspots?namespace=default&workload=shop&request=${encodeURIComponent('GET /api/orders/:id')}`);
    await page.waitForSelector('table.hotspots-global tbody tr');
    expect(await page.inputValue('input[name=workload]')).toBe('shop');
    expect(await page.textContent('table.hotspots-global tbody tr .fn-name')).toBe('priceOrder');
    // nothing matches
    await page.goto(`${srv.url}#/hotspots?namespace=nowhere`);
    await page.waitForSelector('.state-empty');
    expect(await page.textContent('.state-empty h2')).toBe('Nothing matches these filters');
    await shot(page, 'hotspots-nothing');
    expect(unexpectedErrors(errors)).toEqual([]);
    expect(srv.unmatched).toEqual([]);
    await close();
  });
});
