import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpeedscopeFile } from '../../src/export/speedscope-format.js';
import type { CpuProfile } from '../../src/export/cpuprofile-format.js';
import { deserializeTree, type SerializedTree } from '../../src/model/serialized.js';
import type { SessionView } from '../../src/session/types.js';
import { bars, checkPrerequisites, hoverBar, launch, openPage, shot, unexpectedErrors } from '../ui/browser.js';
import { CLI, createSession, drive, eventually, getJson, missingBuild, type OperatorProcess, Proc, ROOT, sessionView, settledSession, startOperator, stopAll, waitForAgents, WORK_TYPE } from './processes.js';

/**
 * The one rule for paths, end to end (issue 14): a real app under its own root directory, started with
 * the agent bundle's preload (as injected into pods) from another working directory, profiled through
 * a real standalone operator. The root the agent finds (the app's package.json) travels in hello, is
 * kept with the requests (an operator restart keeps it), and every place that shows a file names it
 * from the root (`src/lib/pricing/orders.js`, `src/server.js`): the flame graph's bar, its tooltip,
 * the hotspot table and the sandwich in Chromium,
 * the session's status hotspots (`sonde sessions show` prints them), and each export, decoded.
 */
const PRELOAD = join(ROOT, 'dist/agent-bundle/node/preload.cjs');
const missing = missingBuild() ?? (existsSync(PRELOAD) ? undefined : 'the agent bundle is missing: run `npm run build` first');

/**
 * The app: its hot function three directories down (the last-two-segments fallback would show
 * `pricing/orders.js`, so only the root makes `src/lib/pricing/orders.js`), an anonymous request
 * handler in `src/server.js`, `listening PORT`.
 */
const ORDERS_JS = `'use strict';
// Long on purpose: past V8's inlining budget, so its samples stay its own.
function priceOrders(n) {
  let a = 0;
  let b = 1;
  for (let i = 0; i < n; i++) {
    a = (a + Math.imul(b, 2654435761)) >>> 0;
    b = (b ^ (a << 5)) >>> 0;
    if ((i & 1023) === 0) a = (a + i) >>> 0;
    if (a % 7 === 3) b = (b + 11) >>> 0;
    else if (a % 11 === 5) b = (b + 13) >>> 0;
    else b = (b + 17) >>> 0;
  }
  return a ^ b;
}
module.exports = { priceOrders };
`;
const SERVER_JS = `'use strict';
const { createServer } = require('node:http');
const { priceOrders } = require('./lib/pricing/orders.js');

const server = createServer((req, res) => {
  if (req.url.startsWith('/work/')) {
    const r = priceOrders(Number(process.env.WORK || 300000));
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ r }));
  }
  res.writeHead(req.url === '/other' ? 200 : 404);
  res.end();
});
server.keepAliveTimeout = 5000;
server.listen(0, '127.0.0.1', () => process.stdout.write('listening ' + server.address().port + '\\n'));
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 100).unref();
});
`;

const HOT_FILE = 'src/lib/pricing/orders.js';
const HOT_LABEL = /^priceOrders src\/lib\/pricing\/orders\.js:\d+$/;

let base: string;
let appRoot: string;
let op: OperatorProcess;
let browser: Browser | undefined;
let session: SessionView;
const apps: Proc[] = [];

async function startShop(cwd: string): Promise<number> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, NODE_OPTIONS: `--require ${PRELOAD}`, SONDE_URL: op.agentUrl, POD_NAME: 'shop-1', POD_NAMESPACE: 'default', SONDE_LABELS: 'app=shop', SONDE_LOG_LEVEL: 'warn', WORK: '3000000' };
  const proc = new Proc(spawn(process.execPath, [join(appRoot, 'src/server.js')], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] }), 'shop-1');
  apps.push(proc);
  return eventually(() => {
    if (!proc.running) throw new Error(`the shop exited: ${proc.out.slice(-2000)}`);
    const m = /listening (\d+)/.exec(proc.out);
    return m ? Number(m[1]) : undefined;
  }, 20_000, 'the shop listening');
}

async function exported(format: string): Promise<Buffer> {
  const res = await fetch(`${op.url}/api/v1/sessions/${session.id}/tree?format=${format}`);
  expect(res.status, format).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

beforeAll(async () => {
  if (missing) return;
  base = realpathSync(mkdtempSync(join(tmpdir(), 'sonde-approot-e2e-')));
  appRoot = join(base, 'shop');
  mkdirSync(join(appRoot, 'src/lib/pricing'), { recursive: true });
  writeFileSync(join(appRoot, 'package.json'), JSON.stringify({ name: 'shop', private: true }));
  writeFileSync(join(appRoot, 'src/server.js'), SERVER_JS);
  writeFileSync(join(appRoot, HOT_FILE), ORDERS_JS);
  mkdirSync(join(base, 'elsewhere'));
  const data = join(base, 'data');
  op = await startOperator(['--standalone', '--auth', 'none', '--data', data]);
  // Started from another directory: the root must come from the package.json above the main module.
  const port = await startShop(join(base, 'elsewhere'));
  const stop = new AbortController();
  const traffic = drive([{ port }], stop.signal);
  try {
    await waitForAgents(op.url, 1, WORK_TYPE);
    const created = await createSession(op.url, { name: 'paths', spec: { selector: { matchLabels: { app: 'shop' } }, request: WORK_TYPE, requests: 12, duration: '2m', sampleInterval: '5ms' } });
    await eventually(async () => ((await sessionView(op.url, created.id)).status.phase === 'Completed' ? true : undefined), 90_000, 'session Completed');
    session = await settledSession(op.url, created.id);
  } finally {
    stop.abort();
    await traffic;
  }
  await Promise.all(apps.map((p) => p.stop('SIGTERM', 2000)));
  // The operator restarts on the same data: what the agent reported (its root included) is read back.
  await op.proc.stop('SIGTERM', 10_000);
  op = await startOperator(['--standalone', '--auth', 'none', '--data', data]);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all(apps.map((p) => p.stop('SIGKILL', 1000)));
  await stopAll();
  if (base) rmSync(base, { recursive: true, force: true });
});

describe.skipIf(missing)('paths relative to the app root, end to end', () => {
  it('the tree carries the root the agent found; its frames keep their full paths', async () => {
    const body = await getJson<{ tree: SerializedTree; roots: string[] }>(`${op.url}/api/v1/sessions/${session.id}/tree`);
    expect(body.roots).toEqual([appRoot]);
    const t = deserializeTree(body.tree);
    // The model keeps what the runtime reported; only what is shown is relative.
    expect(t.frames.some((f) => f.name === 'priceOrders' && f.file === join(appRoot, HOT_FILE))).toBe(true);
  });

  it('the status hotspots and `sonde sessions show` say src/lib/pricing/orders.js', async () => {
    const view = await sessionView(op.url, session.id);
    expect(view.status.hotspots[0]!.frame).toMatch(HOT_LABEL);
    expect(view.status.hotspots.map((h) => h.frame).join('\n')).not.toContain(base);
    const cli = new Proc(spawn(process.execPath, [CLI, 'sessions', 'show', `default/${session.name}`, '--url', op.url], { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] }), 'cli');
    expect(await cli.exited).toBe(0);
    expect(cli.out).toMatch(/%\s+priceOrders src\/lib\/pricing\/orders\.js:\d+\n/);
    expect(cli.out).not.toContain(base);
  });

  it('pprof, speedscope, cpuprofile and collapsed exports name the files from the root', async () => {
    const p = Profile.decode(gunzipSync(await exported('pprof')));
    const str = (i: number | bigint): string => p.stringTable.strings[Number(i)]!;
    const price = p.function.filter((f) => str(f.name) === 'priceOrders');
    expect(price.length).toBeGreaterThan(0);
    for (const f of price) expect(str(f.filename)).toBe(HOT_FILE);
    expect(p.stringTable.strings.some((s) => s.includes(appRoot))).toBe(false);

    const ss = JSON.parse((await exported('speedscope')).toString('utf8')) as SpeedscopeFile;
    expect(ss.shared.frames.filter((f) => f.name === 'priceOrders').map((f) => f.file)).toContain(HOT_FILE);
    const cp = JSON.parse((await exported('cpuprofile')).toString('utf8')) as CpuProfile;
    expect(cp.nodes.filter((n) => n.callFrame.functionName === 'priceOrders').map((n) => n.callFrame.url)).toContain(HOT_FILE);
    for (const text of [JSON.stringify(ss), JSON.stringify(cp)]) expect(text).not.toContain(appRoot);
    // Folded stacks name functions only; the anonymous request handler is named by its place.
    const folded = (await exported('collapsed')).toString('utf8');
    expect(folded).toMatch(/\(anonymous src\/server\.js:\d+\);(?:[^;\n]*;)*priceOrders \d+\n/);
    expect(folded).not.toContain(appRoot);
  });

  it('in Chromium, bars, tooltips, tables and the sandwich all name files from the root', async () => {
    checkPrerequisites();
    browser = await launch();
    const { page, errors, close } = await openPage(browser, `${op.url}/#/sessions/${session.id}`);
    await page.waitForSelector('.chart-card .flame-bars li');
    const drawn = await bars(page);
    const hot = drawn.filter((b) => b.label.startsWith('priceOrders ')).sort((a, b) => b.w - a.w)[0]!;
    expect(hot.label).toMatch(HOT_LABEL);

    const tip = page.locator('.chart-card .flame-tip');
    await hoverBar(page, hot);
    await tip.waitFor({ state: 'visible' });
    const where = await tip.locator('.tip-where').innerText();
    expect(`priceOrders ${where}`).toBe(hot.label);
    expect(await tip.innerText()).not.toContain(base);

    await page.waitForSelector('.hotspot-table tbody tr');
    const row = page.locator(`.hotspot-table tbody tr[data-label="${hot.label}"]`);
    expect(await row.locator('.fn-where').innerText()).toBe(hot.label.slice('priceOrders '.length));
    await shot(page, 'app-root-session');

    await row.hover();
    await row.locator('.sandwich-btn').click();
    await page.waitForSelector('.sandwich-callers .flame-bars li');
    expect(await page.locator('.sandwich .panel-head h2 .mono').innerText()).toBe(hot.label);
    // The sandwich's own graphs label the function as the main graph does.
    expect((await bars(page, '.sandwich-callers')).map((b) => b.label)).toContain(hot.label);
    const lines = await page.locator('.sandwich-lines tbody td.mono').allInnerTexts();
    for (const l of lines) expect(l).toMatch(/^src\/lib\/pricing\/orders\.js:\d+$/);
    // The anonymous request handler lives in src/server.js: its bar says so.
    expect((await bars(page, '.sandwich-callers')).map((b) => b.label)).toContainEqual(expect.stringMatching(/^\(anonymous\) src\/server\.js:\d+$/));
    expect(await page.locator('body').innerText()).not.toContain(base);

    // Compare (the session against itself: the labels are what matters) and its tooltip.
    await page.goto(`${op.url}/#/compare?base=${session.id}&new=${session.id}`);
    await page.waitForSelector('.chart-card .flame-bars li');
    const diffHot = (await bars(page)).filter((b) => b.label.startsWith('priceOrders ')).sort((a, b) => b.w - a.w)[0]!;
    expect(diffHot.label).toMatch(HOT_LABEL);
    await hoverBar(page, diffHot);
    await tip.waitFor({ state: 'visible' });
    expect(`priceOrders ${await tip.locator('.tip-where').innerText()}`).toBe(diffHot.label);

    // The cluster-wide hotspots page.
    await page.goto(`${op.url}/#/hotspots`);
    const globalRow = page.locator('.hotspots-global tbody tr', { has: page.locator('.fn-name', { hasText: /^priceOrders$/ }) }).first();
    await globalRow.waitFor({ state: 'visible' });
    expect(`priceOrders ${await globalRow.locator('.fn-where').innerText()}`).toMatch(HOT_LABEL);
    expect(await page.locator('body').innerText()).not.toContain(base);
    expect(unexpectedErrors(errors)).toEqual([]);
    await close();
  });
});
