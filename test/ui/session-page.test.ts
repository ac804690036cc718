import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { EXPORTERS, EXPORT_FORMATS } from '../../src/export/index.js';
import { diffTrees } from '../../src/model/diff.js';
import { frameLabel } from '../../src/model/frame.js';
import { frameWeights } from '../../src/model/hotspots.js';
import { deserializeTree, type SerializedTree } from '../../src/model/serialized.js';
import type { SessionView } from '../../src/session/types.js';
import { DIFF_STEPS } from '../../ui/flame/palette.js';
import { bars, checkPrerequisites, clickBar, expectPainted, fixtures, hoverBar, launch, openPage, recorded, serve, shot, unexpectedErrors, type Fixtures, type ReplayServer } from './browser.js';

/**
 * One session's page in a real Chromium, on a session recorded from real agents (the demo shop's
 * `GET /api/orders/:id`, whose hot function is priceOrder): flame graph, zoom, breadcrumb, search,
 * tooltips, hotspots, sandwich, pod filter, slow vs typical, exports, URLs, keyboard.
 */

let browser: Browser;
let f: Fixtures;
let srv: ReplayServer;
let id: string;
let session: SessionView;
type TreeResponse = { tree: SerializedTree; requests: number };

beforeAll(async () => {
  checkPrerequisites();
  browser = await launch();
  f = fixtures('standalone');
  srv = await serve(f);
  id = f.meta['sessions'].orders;
  session = recorded<SessionView>(f, `/api/v1/sessions/${id}`);
});

afterAll(async () => {
  await srv?.close();
  await browser?.close();
});

const hash = (params = ''): string => `#/sessions/${id}${params ? `?${params}` : ''}`;
const param = (page: Page, name: string): string | null => new URLSearchParams(new URL(page.url()).hash.split('?')[1] ?? '').get(name);
const crumbs = (page: Page): Promise<string[]> => page.$$eval('.chart-card .breadcrumb .crumb', (els) => els.map((e) => e.textContent ?? ''));

async function open(params = '', viewport?: { width: number; height: number }) {
  const p = await openPage(browser, `${srv.url}${hash(params)}`, viewport);
  await p.page.waitForSelector('.chart-card .flame-bars li');
  return p;
}

/** The hot function the operator itself reported for this session (its status hotspots). */
const hot = (): string => session.status.hotspots[0]!.frame;

describe('session page', () => {
  it('draws the flame graph of the real session with its hot functions, and the hotspot table agrees with the operator', async () => {
    const { page, errors, close } = await open();
    expect(hot()).toMatch(/^priceOrder /);
    const drawn = await bars(page);
    const root = drawn.find((b) => b.node === 0)!;
    expect(root.label).toBe(`all ${recorded<TreeResponse>(f, `/api/v1/sessions/${id}/tree`).requests} requests`);
    const hotBar = drawn.find((b) => b.label === hot());
    expect(hotBar, `a bar labelled ${hot()}`).toBeDefined();
    expect(hotBar!.w).toBeGreaterThan(100); // a hot function is wide
    // flame orientation: the root is the bottom row
    expect(root.y).toBe(Math.max(...drawn.map((b) => b.y)));
    // the table's self share of the hot function equals the operator's status
    const row = page.locator(`.hotspot-table tr[data-label="${hot()}"]`);
    await expect(row.locator('td').nth(1).locator('.share-text').textContent()).resolves.toBe(`${session.status.hotspots[0]!.selfPercent.toFixed(1)}%`);
    await shot(page, 'session-flame');
    expect(unexpectedErrors(errors)).toEqual([]);
    expect(srv.unmatched).toEqual([]);
    await close();
  });

  it('shows self and total time, samples and time per request in the tooltip', async () => {
    const { page, errors, close } = await open();
    const bar = (await bars(page)).find((b) => b.label === hot())!;
    await hoverBar(page, bar);
    const tip = page.locator('.chart-card .flame-tip');
    await tip.waitFor({ state: 'visible' });
    const text = (await tip.innerText()).replace(/\s+/g, ' ');
    expect(text).toContain('priceOrder');
    expect(text).toMatch(/Total \d[\d.,]* (µs|ms|s) · \d+\.\d%/);
    expect(text).toMatch(/Self \d[\d.,]* (µs|ms|s) · \d+\.\d%/);
    expect(text).toMatch(/Samples [\d,]+ \(self [\d,]+\)/);
    expect(text).toMatch(/Per request [\d.,]+ (µs|ms|s) total · [\d.,]+ (µs|ms|s) self/);
    await shot(page, 'session-tooltip');
    expect(unexpectedErrors(errors)).toEqual([]);
    await close();
  });

  it('zooms on click, with a breadcrumb back up, Reset, Back and Esc', async () => {
    const { page, errors, close } = await open();
    const width = (await page.locator('.chart-card .flame canvas').boundingBox())!.width;
    const parent = (await bars(page)).find((b) => b.label.startsWith('handle demo/sample-app.js'))!;
    await clickBar(page, parent);
    await page.waitForFunction(() => document.querySelector('.chart-card .crumb-current')?.textContent?.startsWith('handle '));
    expect(param(page, 'zoom')).toMatch(/;handle demo\/sample-app\.js:\d+$/);
    const zoomed = (await bars(page)).find((b) => b.label === parent.label)!;
    expect(zoomed.w).toBeGreaterThan(width - 2); // the zoomed frame spans the chart
    const hotBar = (await bars(page)).find((b) => b.label === hot())!;
    expect(hotBar.w).toBeGreaterThan(parent.w * 0.9 * (hotBar.w / zoomed.w)); // its children grew with it
    // deeper, then back up through the breadcrumb
    await clickBar(page, hotBar);
    await page.waitForFunction((l) => document.querySelector('.chart-card .crumb-current')?.textContent === l, hot());
    expect((await crumbs(page)).slice(-2)).toEqual([parent.label, hot()]);
    await page.click(`.chart-card .breadcrumb a.crumb[title="${parent.label}"]`);
    await page.waitForFunction((l) => document.querySelector('.chart-card .crumb-current')?.textContent === l, parent.label);
    await shot(page, 'session-zoomed');
    // Back undoes a zoom step (zooms are history entries)
    await page.goBack();
    await page.waitForFunction((l) => document.querySelector('.chart-card .crumb-current')?.textContent === l, hot());
    // Reset
    await page.click('.chart-card .reset-zoom');
    await page.waitForFunction(() => !document.querySelector('.chart-card .reset-zoom'));
    expect(param(page, 'zoom')).toBeNull();
    // Esc resets too
    await clickBar(page, (await bars(page)).find((b) => b.label === parent.label)!);
    await page.waitForSelector('.chart-card .reset-zoom');
    await page.locator('body').press('Escape');
    await page.waitForFunction(() => !document.querySelector('.chart-card .reset-zoom'));
    expect(unexpectedErrors(errors)).toEqual([]);
    await close();
  });

  it('search highlights the matches and shows their share of the total; / focuses it and Esc clears it', async () => {
    const { page, errors, close } = await open();
    const before = await bars(page);
    await page.locator('body').press('/');
    expect(await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name)).toBe('q');
    await page.keyboard.type('priceorder');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => /of total/.test(document.querySelector('.search-summary')?.textContent ?? ''));
    expect(param(page, 'q')).toBe('priceorder');
    // the share is priceOrder's total share, computed here from the recorded tree with the core model
    const tree = deserializeTree(recorded<TreeResponse>(f, `/api/v1/sessions/${id}/tree`).tree);
    const fw = frameWeights(tree);
    const frames = tree.frames.map((fr, i) => ({ fr, i })).filter(({ fr }) => frameLabel(fr).toLowerCase().includes('priceorder'));
    const share = frames.reduce((s, { i }) => s + fw.total.wallUs[i]!, 0) / tree.total.wallUs[0]!;
    expect(await page.textContent('.search-summary')).toBe(`${frames.length} function${frames.length === 1 ? '' : 's'} · ${(share * 100).toFixed(1)}% of total`);
    // matches share one colour that nothing else has; every other bar changed colour (faded)
    const after = await bars(page);
    const matched = after.filter((b) => b.label.toLowerCase().includes('priceorder'));
    expect(matched.length).toBeGreaterThan(0);
    const c = matched[0]!.color;
    expect(matched.every((b) => b.color === c)).toBe(true);
    expect(after.filter((b) => !b.label.toLowerCase().includes('priceorder')).every((b) => b.color !== c && b.color !== before.find((x) => x.node === b.node)?.color)).toBe(true);
    await shot(page, 'session-search');
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => (document.querySelector('.search-summary')?.textContent ?? '') === '');
    expect(param(page, 'q')).toBeNull();
    expect(await page.evaluate(() => document.activeElement?.tagName)).not.toBe('INPUT');
    expect((await bars(page)).map((b) => b.color)).toEqual(before.map((b) => b.color));
    expect(unexpectedErrors(errors)).toEqual([]);
    await close();
  });

  it('filters by pod: the tree, the root label and the export links follow', async () => {
    const { page, errors, close } = await open();
    const pod = f.meta['pods'][1] as string;
    const podTree = recorded<TreeResponse>(f, `/api/v1/sessions/${id}/tree`, { pod });
    await page.selectOption('select[name=pod]', pod);
    await page.waitForFunction((p) => Array.from(document.querySelectorAll('.chart-card .flame-bars li')).some((li) => li.textContent?.endsWith(`on ${p}`)), pod);
    expect(param(page, 'pod')).toBe(pod);
    const root = (await bars(page)).find((b) => b.node === 0)!;
    expect(root.label).toBe(`all ${podTree.requests} requests on ${pod}`);
    expect(podTree.requests).toBe(session.status.pods.find((p) => p.name === pod)!.requests);
    const hrefs = await page.$$eval('.chart-card .exports a', (as) => as.map((a) => a.getAttribute('href') ?? ''));
    expect(hrefs.every((h) => new URL(h, 'http://x/').searchParams.get('pod') === pod)).toBe(true);
    await shot(page, 'session-pod');
    expect(unexpectedErrors(errors)).toEqual([]);
    expect(srv.unmatched).toEqual([]);
    await close();
  });

  it('opens the sandwich of a function: its callers above, its callees below', async () => {
    const { page, errors, close } = await open();
    await page.locator(`.hotspot-table tr[data-label="${hot()}"]`).hover();
    await page.click(`.hotspot-table tr[data-label="${hot()}"] .sandwich-btn`);
    await page.waitForSelector('.sandwich-callers .flame-bars li');
    expect(param(page, 'fn')).toBe(hot());
    expect(await page.textContent('.sandwich-card h2')).toBe(`Sandwich: ${hot()}`);
    // callers: the function on the bottom row, who called it above; callees: the function on top
    const callers = await bars(page, '.sandwich-callers');
    const callees = await bars(page, '.sandwich-callees');
    const bottom = Math.max(...callers.map((b) => b.y));
    expect(callers.filter((b) => b.y === bottom).map((b) => b.label)).toEqual([hot()]);
    // its caller in the real app is the request handler
    expect(callers.some((b) => b.label.startsWith('handle demo/sample-app.js') && b.y < bottom)).toBe(true);
    expect(callees.filter((b) => b.y === 0).map((b) => b.label)).toEqual([hot()]);
    await page.locator('.sandwich-card').scrollIntoViewIfNeeded();
    await shot(page, 'session-sandwich', true);
    await page.click('.close-sandwich');
    await page.waitForFunction(() => !document.querySelector('.sandwich-callers'));
    expect(param(page, 'fn')).toBeNull();
    expect(unexpectedErrors(errors)).toEqual([]);
    await close();
  });

  it('sorts the hotspot table, and a row click highlights that function in the graph', async () => {
    const { page, errors, close } = await open();
    await page.click('.hotspot-table th[data-sort=total]');
    await page.waitForFunction(() => new URLSearchParams(location.hash.split('?')[1]).get('sort') === 'total');
    const totals = await page.$$eval('.hotspot-table tbody tr', (trs) => trs.map((tr) => parseFloat(tr.querySelectorAll('td')[3]!.textContent ?? '')));
    expect(totals.length).toBeGreaterThan(3);
    for (let i = 1; i < totals.length; i++) expect(totals[i]!).toBeLessThanOrEqual(totals[i - 1]!);
    await page.click(`.hotspot-table tr[data-label="${hot()}"] td.fn`);
    await page.waitForFunction((l) => new URLSearchParams(location.hash.split('?')[1]).get('q') === l, hot());
    expect(await page.inputValue('input[name=q]')).toBe(hot());
    await expect(page.locator(`.hotspot-table tr.is-focused[data-label="${hot()}"]`).count()).resolves.toBe(1);
    expect(await page.textContent('.search-summary')).toMatch(/^1 function · \d+\.\d% of total$/);
    expect(unexpectedErrors(errors)).toEqual([]);
    await close();
  });

  it('shows the slowest requests against typical ones as a differential flame graph, coloured by the model', async () => {
    const { page, errors, close } = await open();
    await page.click('.segmented button[data-value=diff]');
    await page.waitForSelector('.legend-diff');
    await page.waitForFunction(() => document.querySelector('.chart-card .crumb-current')?.textContent === 'all: slow vs typical');
    expect(param(page, 'mode')).toBe('diff');
    expect(await page.textContent('.legend-diff')).toContain('less in slow');
    expect(await page.textContent('.legend-diff')).toContain('more in slow');
    const slow = recorded<TreeResponse>(f, `/api/v1/sessions/${id}/tree`, { split: 'slow' });
    const typical = recorded<TreeResponse>(f, `/api/v1/sessions/${id}/tree`, { split: 'typical' });
    expect(await page.textContent('.chart-note')).toContain(`the ${slow.requests} requests at or above the p90`);
    // Each bar's colour must sit on the side of its change, computed here with src/model/diff.ts from
    // the same recorded trees (the page draws that very tree, so node indexes agree).
    const d = diffTrees(deserializeTree(typical.tree), deserializeTree(slow.tree));
    let more = 0;
    let less = 0;
    for (const b of (await bars(page)).filter((x) => x.node > 0)) {
      const delta = d.delta.total[b.node]!;
      expect(b.label).toBe(frameLabel(d.tree.frame(b.node)!));
      if (delta > 0.01) (expect(b.color).toBeGreaterThan(DIFF_STEPS), more++);
      if (delta < -0.01) (expect(b.color).toBeLessThan(DIFF_STEPS), less++);
    }
    expect(more + less).toBeGreaterThan(0);
    // the tooltip names both sides and the change
    const wide = (await bars(page)).filter((b) => b.node > 0).sort((a, b) => b.w - a.w)[0]!;
    await hoverBar(page, wide);
    const tip = (await page.locator('.chart-card .flame-tip').innerText()).replace(/\s+/g, ' ');
    expect(tip).toMatch(/slow \d+\.\d% of time/);
    expect(tip).toMatch(/typical \d+\.\d% of time/);
    expect(tip).toMatch(/Change /);
    await shot(page, 'session-diff');
    expect(unexpectedErrors(errors)).toEqual([]);
    await close();
  });

  it('offers every export format as a download with the view\'s filters, served with the right content type', async () => {
    const { page, errors, close } = await open();
    await page.click('.chart-card .exports summary');
    const links = await page.$$eval('.chart-card .exports a', (as) => as.map((a) => ({ href: (a as HTMLAnchorElement).href, format: (a as HTMLElement).dataset['format'] ?? '', download: a.hasAttribute('download') })));
    expect(links.map((l) => l.format)).toEqual([...EXPORT_FORMATS]);
    for (const l of links) {
      expect(l.download).toBe(true);
      const res = await page.request.get(l.href);
      expect(res.status()).toBe(200);
      const info = EXPORTERS[l.format as keyof typeof EXPORTERS];
      expect(res.headers()['content-type']).toContain(info.contentType.split(';')[0]!);
      expect(res.headers()['content-disposition']).toMatch(new RegExp(`attachment; filename=".*\\.${info.fileExtension.replace(/\./g, '\\.')}"`));
      const body = await res.body();
      expect(body.length).toBeGreaterThan(20);
      if (l.format === 'collapsed') expect(body.toString('utf8')).toMatch(/;priceOrder[^\n]* \d+\n/);
      if (l.format === 'speedscope') expect(JSON.parse(body.toString('utf8')).$schema).toContain('speedscope');
      if (l.format === 'pprof') expect([body[0], body[1]]).toEqual([0x1f, 0x8b]); // gzip
    }
    await shot(page, 'session-exports');
    // in the diff view, the links carry the split
    await page.click('.segmented button[data-value=diff]');
    await page.waitForSelector('.legend-diff');
    const splits = await page.$$eval('.chart-card .exports a', (as) => as.map((a) => new URL((a as HTMLAnchorElement).href).searchParams.get('split')));
    expect(new Set(splits)).toEqual(new Set(['slow', 'typical']));
    expect(unexpectedErrors(errors)).toEqual([]);
    expect(srv.unmatched).toEqual([]);
    await close();
  });

  it('reopens the exact view from its URL: icicle, zoom, search, pod', async () => {
    const pod = f.meta['pods'][0] as string;
    const first = await open();
    await first.page.selectOption('select[name=pod]', pod);
    await first.page.waitForFunction((p) => Array.from(document.querySelectorAll('.chart-card .flame-bars li')).some((li) => li.textContent?.endsWith(`on ${p}`)), pod);
    await first.page.click('.segmented button[data-value=icicle]');
    await clickBar(first.page, (await bars(first.page)).find((b) => b.label.startsWith('handle demo/sample-app.js'))!);
    await first.page.waitForSelector('.chart-card .reset-zoom');
    await first.page.fill('input[name=q]', 'price');
    await first.page.press('input[name=q]', 'Enter');
    await first.page.waitForFunction(() => /of total/.test(document.querySelector('.search-summary')?.textContent ?? ''));
    const url = first.page.url();
    const view = { crumbs: await crumbs(first.page), summary: await first.page.textContent('.search-summary'), bars: await bars(first.page) };
    await first.close();

    const { page, errors, close } = await openPage(browser, url);
    await page.waitForSelector('.chart-card .reset-zoom');
    await page.waitForFunction(() => /of total/.test(document.querySelector('.search-summary')?.textContent ?? ''));
    expect(await crumbs(page)).toEqual(view.crumbs);
    expect(await page.textContent('.search-summary')).toBe(view.summary);
    expect(await page.inputValue('input[name=q]')).toBe('price');
    expect(await page.inputValue('select[name=pod]')).toBe(pod);
    expect(await page.getAttribute('.segmented button[data-value=icicle]', 'aria-pressed')).toBe('true');
    expect(await bars(page)).toEqual(view.bars);
    // icicle: the root is the top row
    expect((await bars(page)).find((b) => b.node === 0)!.y).toBe(0);
    await shot(page, 'session-reopened');
    expect(unexpectedErrors(errors)).toEqual([]);
    await close();
  });

  it('keeps labels readable at any width: truncated with an ellipsis, hidden in bars too narrow', async () => {
    for (const width of [1440, 760, 420]) {
      const { page, errors, close } = await open('', { width, height: 800 });
      const drawn = await page.$$eval('.chart-card .flame-bars li', (lis) => lis.map((li) => ({ label: li.textContent ?? '', text: (li as HTMLElement).dataset['text'] ?? '', w: Number((li as HTMLElement).dataset['w']), charW: Number((li as HTMLElement).dataset['charW']) })));
      expect(drawn.length).toBeGreaterThan(0);
      for (const b of drawn) {
        expect(b.text.length).toBeGreaterThanOrEqual(3);
        expect(b.text.length * b.charW).toBeLessThanOrEqual(b.w - 7.9); // fits, with padding
        if (b.text !== b.label) expect(b.text.endsWith('…') && b.label.startsWith(b.text.slice(0, -1))).toBe(true);
      }
      if (width === 420) {
        expect(drawn.some((b) => b.text.endsWith('…'))).toBe(true);
        await shot(page, 'session-narrow', true);
      }
      // no horizontal scrollbar on the page
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(true);
      expect(unexpectedErrors(errors)).toEqual([]);
      await close();
    }
  });

  it('shows no unpainted chart while the tree is still loading', async () => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let asked = false;
    // Hold the tree back, as a slow operator would, to see the page in between.
    await page.route(/\/api\/v1\/sessions\/[^/]+\/tree/, async (route) => {
      asked = true;
      await held;
      await route.continue();
    });
    await page.goto(`${srv.url}${hash()}`);
    await page.waitForSelector('.session-head h1');
    await expect.poll(() => asked).toBe(true);
    await page.waitForTimeout(200);
    await expect(page.locator('.chart-card .state-loading').textContent()).resolves.toBe('Loading the call tree…');
    await shot(page, 'session-loading'); // runs expectPainted: no black 300×150 canvas before the first draw
    release();
    await page.waitForSelector('.chart-card .flame-bars li');
    await expect(page.locator('.chart-card .state-loading').count()).resolves.toBe(0);
    await expectPainted(page);
    await context.close();
  });

  it('says what is going on for a session that has no samples yet', async () => {
    const waiting = f.meta['sessions'].waiting;
    const { page, errors, close } = await openPage(browser, `${srv.url}#/sessions/${waiting}`);
    await page.waitForSelector('.chart-card .state-empty');
    const s = recorded<SessionView>(f, `/api/v1/sessions/${waiting}`);
    expect(await page.textContent('.chart-card .state-empty h2')).toBe(s.status.phase === 'Pending' || s.status.phase === 'Running' ? 'No samples yet' : 'This session profiled nothing');
    expect(await page.textContent('.chart-card .state-empty p')).toContain(s.spec.request);
    // nothing profiled: no hotspot or sandwich cards, nothing to export, colour-code or search
    await page.waitForTimeout(300); // the hotspot table is rendered a frame after the chart
    await expect(page.locator('.hotspots-card').isVisible()).resolves.toBe(false);
    await expect(page.locator('.sandwich-card').isVisible()).resolves.toBe(false);
    await expect(page.locator('.exports').count()).resolves.toBe(0);
    await expect(page.locator('.chart-card .legend').count()).resolves.toBe(0);
    await expect(page.locator('.toolbar').isVisible()).resolves.toBe(false);
    await shot(page, 'session-waiting');
    expect(unexpectedErrors(errors)).toEqual([]);
    await close();
  });
});
