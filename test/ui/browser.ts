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
  return { page, errors, close: () => context.close() };
}

/** Saves a screenshot as a test artifact under test-results/ui/. */
export async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
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
