// `npm run bench:ui`: how fast the UI draws a 100,000-node call tree, and zooms in it, in headless
// Chromium. The tree comes from a seeded generator shaped like real JS profiles; the page loads it
// through the real path (fetch → JSON → deserializeTree → layout → canvas). A 10,000-node tree runs
// interleaved with it, round by round, to show how the cost scales. Prints medians and spreads.
//
// Render = from the start of the tree request to the first painted frame of the graph (network on
// loopback, JSON parse, deserialize, layout, draw). Zoom = from the click to the painted frame.
import { chromium } from 'playwright-core';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { serializeTree } from '../../../dist/src/model/serialized.js';
import { generateTree, generateWorstCase } from './generate-tree.mjs';
import { memoryResponse, startReplayServer } from '../../ui/replay-server.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const uiDir = join(root, 'dist', 'ui');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const ZOOMS = 4;
const TARGET_RENDER_MS = 1000;
const TARGET_ZOOM_MS = 100;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

if (!existsSync(join(uiDir, 'app.js'))) throw new Error('dist/ui is not built: run npm run build');

function sessionView(id, nodes) {
  return {
    id,
    name: `bench-${nodes}`,
    namespace: 'bench',
    source: 'api',
    createdAt: new Date(Date.now() - 600_000).toISOString(),
    generation: 1,
    spec: { selector: { matchLabels: { app: 'bench' } }, request: 'GET /api/orders/:id', requests: 100, duration: '5m', sampleInterval: '10ms' },
    status: {
      phase: 'Completed',
      conditions: [],
      requestsProfiled: 100,
      progress: '100/100',
      pods: [{ name: 'bench-7d9f8b6c5-x2x9z', requests: 100, samples: 1000, state: 'Done' }],
      hotspots: [],
    },
  };
}

// Keys: the realistic 100k tree, a 10k one for scaling, and the drawing worst case (every node drawn).
const WORST = 'worst';
const sizes = [100_000, 10_000, WORST];
const responses = [memoryResponse('GET', '/api/v1/info', {}, 200, { mode: 'cluster', version: 'bench' })];
const trees = {};
for (const n of sizes) {
  const id = `bench-${n}`;
  const t0 = performance.now();
  const tree = n === WORST ? generateWorstCase() : generateTree({ nodes: n, seed: 42 });
  trees[n] = { id, size: tree.size, genMs: performance.now() - t0 };
  const body = JSON.stringify({ session: id, tree: serializeTree(tree), requests: 100, filters: {} });
  trees[n].bytes = body.length;
  responses.push(memoryResponse('GET', `/api/v1/sessions/${id}`, {}, 200, sessionView(id, n)));
  responses.push(memoryResponse('GET', `/api/v1/sessions/${id}/tree`, {}, 200, body));
}
const server = await startReplayServer({ uiDir, fixtures: { responses, events: [] } });
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

// Installed before the app runs: records each draw of the graph and the painted frame after it.
const probe = () => {
  window.__bench = { draws: [], clicks: [] };
  document.addEventListener(
    'flame:drawn',
    (e) => {
      const entry = { at: performance.now(), ms: e.detail.ms, bars: e.detail.bars, painted: 0 };
      window.__bench.draws.push(entry);
      requestAnimationFrame(() => setTimeout(() => (entry.painted = performance.now()), 0));
    },
    true,
  );
  document.addEventListener('click', (e) => window.__bench.clicks.push(e.timeStamp), true);
};

async function measure(n) {
  const { id } = trees[n];
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
  await context.addInitScript(probe);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto(`${server.url}#/sessions/${id}`);
  await page.waitForFunction(() => window.__bench.draws.some((d) => d.painted > 0), null, { timeout: 30_000 });
  const render = await page.evaluate((id) => {
    const res = performance.getEntriesByType('resource').find((r) => r.name.includes(`/sessions/${id}/tree`));
    const d = window.__bench.draws.find((x) => x.painted > 0);
    return { fromRequest: d.painted - res.startTime, fromNavigation: d.painted, network: res.responseEnd - res.startTime, draw: d.ms, bars: d.bars };
  }, id);

  const zooms = [];
  for (let z = 0; z < ZOOMS; z++) {
    // Zoom into the widest labelled bar a few levels below the current zoom, as a person would.
    const target = await page.evaluate(() => {
      const bars = [...document.querySelectorAll('.flame-bars li')].map((li) => ({ x: +li.dataset.x, y: +li.dataset.y, w: +li.dataset.w, node: +li.dataset.node }));
      const rows = [...new Set(bars.map((b) => b.y))].sort((a, b) => a - b);
      const row = rows[Math.max(0, rows.length - 8)];
      const cands = bars.filter((b) => b.y === row && b.node !== 0 && b.w < 1400).sort((a, b) => b.w - a.w);
      if (cands[0]) return cands[0];
      // no labelled bar to aim at (the worst case: bars under a pixel): click into the middle rows
      const canvas = document.querySelector('.flame canvas');
      const h = canvas.clientHeight;
      return { x: canvas.clientWidth * 0.4, y: Math.floor(h / 18 / 2) * 18, w: 1 };
    });
    const before = await page.evaluate(() => window.__bench.draws.length);
    // locator.click scrolls the bar into view first: deep trees make the canvas taller than the viewport
    await page.locator('.flame canvas').click({ position: { x: target.x + Math.min(target.w / 2, 20), y: target.y + 5 } });
    await page.waitForFunction((k) => window.__bench.draws.length > k && window.__bench.draws[window.__bench.draws.length - 1].painted > 0, before, { timeout: 10_000 });
    zooms.push(
      await page.evaluate(() => {
        const d = window.__bench.draws[window.__bench.draws.length - 1];
        const click = window.__bench.clicks[window.__bench.clicks.length - 1];
        return { ms: d.painted - click, draw: d.ms, bars: d.bars };
      }),
    );
  }
  // and back out with Esc
  const before = await page.evaluate(() => window.__bench.draws.length);
  const t = await page.evaluate(() => performance.now());
  await page.keyboard.press('Escape');
  await page.waitForFunction((k) => window.__bench.draws.length > k && window.__bench.draws[window.__bench.draws.length - 1].painted > 0, before, { timeout: 10_000 });
  const reset = await page.evaluate((t) => window.__bench.draws[window.__bench.draws.length - 1].painted - t, t);
  await context.close();
  if (errors.length) throw new Error(`console errors during the benchmark: ${errors.join('; ')}`);
  return { render, zooms, reset };
}

const results = Object.fromEntries(sizes.map((n) => [n, { render: [], network: [], draw: [], nav: [], zoom: [], zoomDraw: [], reset: [], bars: [] }]));
for (let round = 0; round < ROUNDS; round++) {
  // interleave sizes, rotating which goes first
  for (const n of [...sizes.slice(round % sizes.length), ...sizes.slice(0, round % sizes.length)]) {
    const m = await measure(n);
    const r = results[n];
    r.render.push(m.render.fromRequest);
    r.network.push(m.render.network);
    r.draw.push(m.render.draw);
    r.nav.push(m.render.fromNavigation);
    r.bars.push(m.render.bars);
    for (const z of m.zooms) (r.zoom.push(z.ms), r.zoomDraw.push(z.draw));
    r.reset.push(m.reset);
  }
  process.stdout.write(`round ${round + 1}/${ROUNDS} done\n`);
}
await browser.close();
await server.close();

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const spread = (a) => `${Math.min(...a).toFixed(0)}–${Math.max(...a).toFixed(0)}`;
const fmt = (v) => `${v.toFixed(v < 10 ? 1 : 0)} ms`;
const version = browser.version?.() ?? '';
console.log(`\nUI rendering, headless Chromium ${version}, 1440×900, ${ROUNDS} rounds (sizes interleaved)`);
let pass = true;
for (const n of sizes) {
  const r = results[n];
  const t = trees[n];
  const mr = median(r.render);
  const mz = median(r.zoom);
  console.log(`\n${t.size.toLocaleString('en')} nodes${n === WORST ? ', worst case for drawing' : ''} (${(t.bytes / 1e6).toFixed(1)} MB JSON), ${median(r.bars).toFixed(0)} bars drawn`);
  console.log(`  render (request → painted): median ${fmt(mr)} [${spread(r.render)}]  target ≤ ${TARGET_RENDER_MS} ms  ratio ${(mr / TARGET_RENDER_MS).toFixed(2)}`);
  console.log(`    of which network ${fmt(median(r.network))}, canvas draw ${fmt(median(r.draw))}; from navigation ${fmt(median(r.nav))}`);
  console.log(`  zoom (click → painted):    median ${fmt(mz)} [${spread(r.zoom)}]  target ≤ ${TARGET_ZOOM_MS} ms  ratio ${(mz / TARGET_ZOOM_MS).toFixed(2)}  (draw ${fmt(median(r.zoomDraw))})`);
  console.log(`  reset (Esc → painted):     median ${fmt(median(r.reset))} [${spread(r.reset)}]`);
  if (n === 100_000 && (mr > TARGET_RENDER_MS || mz > TARGET_ZOOM_MS)) pass = false;
}
const worst = results[WORST];
if (median(worst.render) > TARGET_RENDER_MS || median(worst.zoom) > TARGET_ZOOM_MS) console.log('\nnote: the drawing worst case misses a target (reported, not gated)');
const big = results[100_000];
const small = results[10_000];
console.log(`\nscaling 100k/10k: render ×${(median(big.render) / median(small.render)).toFixed(2)}, zoom ×${(median(big.zoom) / median(small.zoom)).toFixed(2)}`);
console.log(pass ? '\nPASS: 100,000 nodes within both targets' : '\nFAIL: a target was missed');
process.exitCode = pass ? 0 : 1;
