import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';
import { layered, loadFixtures, requestKey, startReplayServer, type FixtureSet, type ReplayServer } from './replay-server.mjs';

/** The browser side of the UI tests: Debian's Chromium, the built UI, recorded API responses. */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const UI_DIR = join(root, 'dist', 'ui');
export const FIXTURES = join(root, 'test', 'ui', 'fixtures');
export const SHOTS = join(root, 'test-results', 'ui');
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

export type { ReplayServer };
export type Fixtures = FixtureSet;

/** Fixture sets by name, layered: the first that has a response answers. */
export function fixtures(...names: string[]): Fixtures {
  return layered(...names.map((n) => loadFixtures(join(FIXTURES, n))));
}

export function checkPrerequisites(): void {
  if (!existsSync(join(UI_DIR, 'app.js'))) throw new Error('dist/ui is not built: run `npm run build` (or node scripts/build-ui.mjs)');
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  if (!existsSync(join(FIXTURES, 'standalone', 'index.json'))) throw new Error('UI fixtures are missing: node test/ui/record-fixtures.mjs');
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export async function serve(f: Fixtures, options: { replayEvents?: boolean; eventDelayMs?: number } = {}): Promise<ReplayServer> {
  return startReplayServer({ uiDir: UI_DIR, fixtures: f, ...options });
}

/** A page that records every console error and uncaught exception, so a test can require none. */
export interface TestPage {
  page: Page;
  errors: string[];
  close(): Promise<void>;
}

export async function openPage(browser: Browser, url: string, viewport = { width: 1440, height: 900 }): Promise<TestPage> {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, acceptDownloads: true });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  await page.goto(url);
  return {
    page,
    errors,
    // Whatever state a test leaves its page in is checked for unpainted areas before it goes.
    close: async () => {
      try {
        if (!page.isClosed() && page.url().startsWith('http')) await expectPainted(page);
      } finally {
        await context.close();
      }
    },
  };
}

/** Saves a screenshot as a test artifact under test-results/ui/, after checking nothing is left unpainted. */
export async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  const png = await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
  await expectPainted(page, png);
}

/** A visible canvas whose every pixel is the same: created but never drawn (an opaque one shows black). */
export interface UnpaintedCanvas {
  where: string;
  width: number;
  height: number;
  pixel: number[];
}

/** Every canvas the page shows (laid out, not hidden, with an area) that holds a single colour. */
export async function unpaintedCanvases(page: Page): Promise<UnpaintedCanvas[]> {
  return page.$$eval('canvas', (canvases) => {
    const out: { where: string; width: number; height: number; pixel: number[] }[] = [];
    for (const c of canvases as HTMLCanvasElement[]) {
      const r = c.getBoundingClientRect();
      if (r.width < 1 || r.height < 1 || !c.checkVisibility({ visibilityProperty: true, opacityProperty: true })) continue;
      const where = [c.closest('[aria-label]')?.getAttribute('aria-label'), c.parentElement?.className].filter(Boolean).join(' / ');
      if (c.width === 0 || c.height === 0) {
        out.push({ where, width: c.width, height: c.height, pixel: [] });
        continue;
      }
      // getContext returns the context the page made (with its options), or a fresh one if none was.
      const ctx = c.getContext('2d');
      if (!ctx) continue; // a WebGL canvas: not ours
      const data = ctx.getImageData(0, 0, c.width, c.height).data;
      const v = new Uint32Array(data.buffer, data.byteOffset, data.byteLength / 4);
      let uniform = true;
      for (let i = 1; i < v.length && uniform; i++) uniform = v[i] === v[0];
      if (uniform) out.push({ where, width: c.width, height: c.height, pixel: Array.from(data.slice(0, 4)) });
    }
    return out;
  });
}

/** Visible cards (`.card`) with no text and nothing drawn in them: a frame around nothing. */
export async function emptyCards(page: Page): Promise<string[]> {
  return page.$$eval('.card', (cards) =>
    cards
      .filter((c) => (c as HTMLElement).checkVisibility() && c.getBoundingClientRect().height > 0)
      .filter((c) => ((c as HTMLElement).innerText ?? '').trim() === '' && !c.querySelector('canvas, svg, img'))
      .map((c) => `${c.className}${c.getAttribute('aria-label') ? ` (${c.getAttribute('aria-label')})` : ''}`),
  );
}

/**
 * The largest connected block of pure black on a screenshot (8×8-pixel cells that are all black, joined
 * by edges), in CSS pixels². The UI has no black surfaces: text is thinner than a cell, so a large
 * block is something unpainted (an opaque canvas never drawn) or a broken style. Decoded by the page's
 * own browser, so the test needs no image library.
 */
export async function largestBlackArea(page: Page, png: Buffer): Promise<{ area: number; x: number; y: number }> {
  const src = `data:image/png;base64,${png.toString('base64')}`;
  const probe = await page.context().newPage();
  try {
    return await probe.evaluate(async (url) => {
      const img = new Image();
      img.src = url;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const ctx = c.getContext('2d', { willReadFrequently: true })!;
      ctx.drawImage(img, 0, 0);
      const { data, width, height } = ctx.getImageData(0, 0, c.width, c.height);
      const C = 8;
      const cw = Math.floor(width / C);
      const ch = Math.floor(height / C);
      const black = new Uint8Array(cw * ch);
      for (let cy = 0; cy < ch; cy++)
        for (let cx = 0; cx < cw; cx++) {
          let all = true;
          for (let y = cy * C; y < cy * C + C && all; y++)
            for (let x = cx * C; x < cx * C + C && all; x++) {
              const i = (y * width + x) * 4;
              all = data[i]! < 12 && data[i + 1]! < 12 && data[i + 2]! < 12;
            }
          black[cy * cw + cx] = all ? 1 : 0;
        }
      let best = { area: 0, x: 0, y: 0 };
      const stack: number[] = [];
      for (let s = 0; s < black.length; s++) {
        if (black[s] !== 1) continue;
        let n = 0;
        black[s] = 2;
        stack.push(s);
        while (stack.length) {
          const k = stack.pop()!;
          n++;
          const x = k % cw;
          const y = (k - x) / cw;
          for (const [nx, ny] of [[x - 1, y], [x + 1, y], [x, y - 1], [x, y + 1]] as const)
            if (nx >= 0 && ny >= 0 && nx < cw && ny < ch && black[ny * cw + nx] === 1) (black[ny * cw + nx] = 2), stack.push(ny * cw + nx);
        }
        if (n * C * C > best.area) best = { area: n * C * C, x: (s % cw) * C, y: Math.floor(s / cw) * C };
      }
      return best;
    }, src);
  } finally {
    await probe.close();
  }
}

/** Largest black block a page may show (px²): 32×32, far above any glyph, far below a 300×150 canvas. */
export const MAX_BLACK_AREA = 32 * 32;

/**
 * Fails when the page shows a canvas that was never drawn, or a large uniform black area. Runs on
 * every screenshot (`shot`) and on every page a test closes, so each state the UI tests reach is checked.
 */
export async function expectPainted(page: Page, png?: Buffer): Promise<void> {
  const empty = await emptyCards(page);
  if (empty.length) throw new Error(`empty card on ${page.url()}: ${JSON.stringify(empty)}`);
  const canvases = await unpaintedCanvases(page);
  if (canvases.length) throw new Error(`unpainted canvas on ${page.url()}: ${JSON.stringify(canvases)}`);
  const black = await largestBlackArea(page, png ?? (await page.screenshot({ fullPage: true })));
  if (black.area > MAX_BLACK_AREA) throw new Error(`a uniform black area of ${black.area} px² at (${black.x}, ${black.y}) on ${page.url()}`);
}

/** The labelled bars of the main flame chart as drawn (the chart's accessible list). */
export async function bars(page: Page, chart = '.chart-card'): Promise<{ label: string; x: number; y: number; w: number; color: number; node: number }[]> {
  return page.$$eval(`${chart} .flame-bars li`, (lis) =>
    lis.map((li) => {
      const d = (li as HTMLElement).dataset;
      return { label: li.textContent ?? '', x: Number(d['x']), y: Number(d['y']), w: Number(d['w']), color: Number(d['color']), node: Number(d['node']) };
    }),
  );
}

/** Clicks the middle-left of a drawn bar through the canvas, as a person would. */
export async function clickBar(page: Page, bar: { x: number; y: number; w: number }, chart = '.chart-card'): Promise<void> {
  await page.locator(`${chart} .flame canvas`).first().click({ position: { x: bar.x + Math.min(bar.w / 2, 30), y: bar.y + 8 } });
}

export async function hoverBar(page: Page, bar: { x: number; y: number; w: number }, chart = '.chart-card'): Promise<void> {
  await page.locator(`${chart} .flame canvas`).first().hover({ position: { x: bar.x + Math.min(bar.w / 2, 30), y: bar.y + 8 } });
}

/** The JSON the operator answered for a GET, as recorded in the fixtures (to compute expectations). */
export function recorded<T>(f: Fixtures, path: string, query: Record<string, string> = {}): T {
  const key = requestKey('GET', path, query);
  const hit = f.responses.find((r) => r.key === key);
  if (!hit) throw new Error(`no recorded response for ${key}`);
  return JSON.parse(hit.data.toString('utf8')) as T;
}

/** Console errors other than the browser's own report of an HTTP status the test asked for. */
export function unexpectedErrors(errors: string[], allowed: RegExp[] = []): string[] {
  return errors.filter((e) => !allowed.some((re) => re.test(e)));
}
