import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { byFunction } from '../../src/model/by-function.js';
import { CallTreeBuilder } from '../../src/model/call-tree-builder.js';
import type { CallTree } from '../../src/model/call-tree.js';
import { frameLabel, makeFrame } from '../../src/model/frame.js';
import { deserializeTree, serializeTree, type SerializedTree } from '../../src/model/serialized.js';
import { layered, memoryResponse } from './replay-server.mjs';
import { bars, checkPrerequisites, fixtures, hoverBar, launch, openPage, recorded, serve, unexpectedErrors, type ReplayServer } from './browser.js';

/**
 * A function's own start line (Frame.functionLine, the wire's `starts`): the recorded demo session
 * with priceOrder given its start (line 20) and a third of its self time moved to a second function
 * of the same name in the same file, starting at line 60 (sampled at 62). The page must show two
 * functions, each labelled at its start, and say "function at line N" in the tooltip and sandwich.
 */

type TreeResponse = { tree: SerializedTree; requests: number };
let browser: Browser;
let srv: ReplayServer;
let id: string;
let served: CallTree;

function twoPriceOrders(tree: CallTree): CallTree {
  const b = new CallTreeBuilder();
  const map = new Int32Array(tree.size);
  for (let i = 1; i < tree.size; i++) {
    let f = tree.frames[tree.frameIds[i]!]!;
    if (f.name === 'priceOrder') f = makeFrame(f.name, f.file, f.line, f.column, f.kind, undefined, 20);
    const node = b.child(map[tree.parents[i]!]!, b.internFrame(f));
    map[i] = node;
    const self = tree.selfOf(i);
    if (f.name === 'priceOrder' && self.samples >= 3) {
      const moved = Math.floor(self.samples / 3);
      const share = moved / self.samples;
      const other = b.child(map[tree.parents[i]!]!, b.internFrame(makeFrame(f.name, f.file, 62, 0, f.kind, undefined, 60)));
      b.addSelf(other, { samples: moved, wallUs: Math.round(self.wallUs * share), cpuUs: Math.round(self.cpuUs * share) });
      b.addSelf(node, { samples: self.samples - moved, wallUs: self.wallUs - Math.round(self.wallUs * share), cpuUs: self.cpuUs - Math.round(self.cpuUs * share) });
    } else if (self.samples || self.wallUs || self.cpuUs) b.addSelf(node, self);
  }
  return b.build();
}

beforeAll(async () => {
  checkPrerequisites();
  browser = await launch();
  const base = fixtures('standalone');
  id = base.meta['sessions'].orders;
  const path = `/api/v1/sessions/${id}/tree`;
  const rec = recorded<TreeResponse>(base, path);
  served = twoPriceOrders(deserializeTree(rec.tree));
  const mine = { meta: base.meta, responses: [memoryResponse('GET', path, {}, 200, { ...rec, tree: serializeTree(served) })], events: [] };
  srv = await serve(layered(mine, base));
});

afterAll(async () => {
  await srv?.close();
  await browser?.close();
});

describe('session page, two same-named functions of one file with their start lines', () => {
  it('the served tree really has two priceOrder functions (what this test is about)', () => {
    expect([...new Set(served.frames.filter((f) => f.name === 'priceOrder').map((f) => f.functionLine))].sort()).toEqual([20, 60]);
  });

  it('lists them apart, labels bars at their starts, and the tooltip says where the function begins', async () => {
    const { page, errors, close } = await openPage(browser, `${srv.url}#/sessions/${id}`);
    await page.waitForSelector('.chart-card .flame-bars li');
    await page.waitForSelector('.hotspot-table tbody tr');
    const names = await page.$$eval('.hotspot-table tbody .fn-name', (els) => els.map((e) => e.textContent));
    expect(names.filter((n) => n === 'priceOrder')).toHaveLength(2);
    const labels = byFunction(served).tree.frames.filter((f) => f.name === 'priceOrder').map((f) => frameLabel(f)).sort();
    expect(labels.map((l) => l.replace(/.*:/, ''))).toEqual(['20', '60']);
    const drawn = (await bars(page)).filter((b) => b.label.startsWith('priceOrder '));
    expect(drawn.every((b) => labels.includes(b.label))).toBe(true);
    const widest = drawn.sort((a, b) => b.w - a.w)[0]!;
    await hoverBar(page, widest);
    const tip = page.locator('.chart-card .flame-tip');
    await tip.waitFor({ state: 'visible' });
    const start = widest.label.replace(/.*:/, '');
    await expect(tip.locator('.tip-function').textContent()).resolves.toBe(`function at line ${start}`);
    // The line the time went to is still there as detail (the bar's line is the start, not a sampled line).
    expect((await tip.innerText()).replace(/\s+/g, ' ')).toMatch(start === '20' ? /line 24 / : /line 62 /);
    expect(unexpectedErrors(errors)).toEqual([]);
    expect(srv.unmatched).toEqual([]);
    await close();
  });

  it('the sandwich of one of them says where it begins', async () => {
    const label = byFunction(served).tree.frames.filter((f) => f.name === 'priceOrder').map((f) => frameLabel(f)).find((l) => l.endsWith(':60'))!;
    const { page, errors, close } = await openPage(browser, `${srv.url}#/sessions/${id}?fn=${encodeURIComponent(label)}`);
    await page.waitForSelector('.sandwich .sandwich-function');
    await expect(page.locator('.sandwich .sandwich-function').textContent()).resolves.toBe('function at line 60');
    const rows = await page.$$eval('.sandwich .sandwich-lines tbody tr', (trs) => trs.map((tr) => tr.querySelector('td')?.textContent));
    expect(rows).toEqual(['demo/sample-app.js:62']);
    expect(unexpectedErrors(errors)).toEqual([]);
    await close();
  });
});
