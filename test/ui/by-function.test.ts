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
 * Issue 14, "one function is split per line": the recorded demo session, with priceOrder's self time
 * split between two lines (24 and 34) as the Node agent reports it when the hot loop and the call
 * around it are both sampled. The page must show one function: one hotspot row, one bar per call
 * path, one sandwich, and the lines as detail in the tooltip and in the sandwich.
 */

type TreeResponse = { tree: SerializedTree; requests: number };
let browser: Browser;
let srv: ReplayServer;
let id: string;
let split: CallTree;

/** The recorded tree with a third of each priceOrder node's self weight moved to line 34 of it. */
function splitPriceOrder(tree: CallTree): CallTree {
  const b = new CallTreeBuilder();
  const map = new Int32Array(tree.size);
  for (let i = 1; i < tree.size; i++) {
    const f = tree.frames[tree.frameIds[i]!]!;
    const node = b.child(map[tree.parents[i]!]!, b.internFrame(f));
    map[i] = node;
    const self = tree.selfOf(i);
    if (f.name === 'priceOrder' && self.samples >= 3) {
      const moved = Math.floor(self.samples / 3);
      const share = moved / self.samples;
      const other = b.child(map[tree.parents[i]!]!, b.internFrame(makeFrame(f.name, f.file, 34, 0, f.kind)));
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
  split = splitPriceOrder(deserializeTree(rec.tree));
  const mine = { meta: base.meta, responses: [memoryResponse('GET', path, {}, 200, { ...rec, tree: serializeTree(split) })], events: [] };
  srv = await serve(layered(mine, base));
});

afterAll(async () => {
  await srv?.close();
  await browser?.close();
});

describe('session page, one function sampled at two lines', () => {
  it('the served tree really has priceOrder at lines 24 and 34 (what this test is about)', () => {
    expect(split.frames.filter((f) => f.name === 'priceOrder').map((f) => f.line).sort()).toEqual([24, 34]);
  });

  it('shows one hotspot row, merged bars, and the lines in the tooltip', async () => {
    const { page, errors, close } = await openPage(browser, `${srv.url}#/sessions/${id}`);
    await page.waitForSelector('.chart-card .flame-bars li');
    await page.waitForSelector('.hotspot-table tbody tr');
    const names = await page.$$eval('.hotspot-table tbody .fn-name', (els) => els.map((e) => e.textContent));
    expect(names.filter((n) => n === 'priceOrder')).toHaveLength(1);

    const fnTree = byFunction(split).tree;
    const label = frameLabel(fnTree.frames.find((f) => f.name === 'priceOrder')!);
    expect(label).toMatch(/^priceOrder .*:24$/);
    const drawn = (await bars(page)).filter((b) => b.label.startsWith('priceOrder '));
    const expected = Array.from({ length: fnTree.size }, (_, n) => n).filter((n) => fnTree.frame(n)?.name === 'priceOrder');
    const before = Array.from({ length: split.size }, (_, n) => n).filter((n) => split.frame(n)?.name === 'priceOrder');
    expect(before.length).toBeGreaterThan(expected.length);
    // Every bar is labelled by function; wide enough bars are drawn (tiny ones merge into a stand-in).
    expect(drawn.every((b) => b.label === label)).toBe(true);
    expect(drawn.length).toBeGreaterThan(0);
    expect(drawn.length).toBeLessThanOrEqual(expected.length);

    const widest = drawn.sort((a, b) => b.w - a.w)[0]!;
    await hoverBar(page, widest);
    const tip = page.locator('.chart-card .flame-tip');
    await tip.waitFor({ state: 'visible' });
    const text = (await tip.innerText()).replace(/\s+/g, ' ');
    expect(text).toContain('Lines (2)');
    // One rule for paths: the tooltip says where as the bar does, not the runtime's absolute path.
    await expect(tip.locator('.tip-where').textContent()).resolves.toBe(label.slice('priceOrder '.length));
    expect(text).toMatch(/line 24 \S+ ms · \d+(\.\d)?%/);
    expect(text).toMatch(/line 34 \S+ ms · \d+(\.\d)?%/);
    expect(unexpectedErrors(errors)).toEqual([]);
    expect(srv.unmatched).toEqual([]);
    await close();
  });

  it('opens one sandwich for the function with its lines listed', async () => {
    const label = frameLabel(byFunction(split).tree.frames.find((f) => f.name === 'priceOrder')!);
    const { page, errors, close } = await openPage(browser, `${srv.url}#/sessions/${id}?fn=${encodeURIComponent(label)}`);
    await page.waitForSelector('.sandwich .sandwich-lines tbody tr');
    const rows = await page.$$eval('.sandwich .sandwich-lines tbody tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent)));
    expect(rows.map((r) => r[0])).toEqual(['demo/sample-app.js:24', 'demo/sample-app.js:34']);
    const shares = rows.map((r) => parseFloat(r[2]!));
    expect(shares[0]! + shares[1]!).toBeCloseTo(100, 0);
    expect(shares[1]).toBeGreaterThan(20);
    expect(await page.locator('.sandwich-part').count()).toBe(2);
    expect(unexpectedErrors(errors)).toEqual([]);
    await close();
  });
});
