import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { SessionView } from '../../src/session/types.js';
import { loadConfig, startOperator, type RunningOperator } from '../../operator/main.js';
import { FakeAgent, fakeRequest } from '../harness/fake-agent.js';
import { eventually } from '../harness/eventually.js';
import { LogSink } from '../operator/api/api-harness.js';
import { UI_DIR, checkPrerequisites, launch, openPage, shot, unexpectedErrors } from './browser.js';

/**
 * Issue 14 in a real Chromium against a real standalone operator (the built UI, its REST API and event
 * stream, agents on a real WebSocket): the page warns about a request type no agent has reported, says
 * "Nothing profiled" for a session that got nothing, and explains a count above N with the same figure
 * the operator's status and conditions give.
 */

let browser: Browser;
let op: RunningOperator;
let dir: string;
const agents: FakeAgent[] = [];
const ORDERS = 'GET /api/orders/:id';
const json = { 'content-type': 'application/json' };

const agent = async (name: string, catalogue: string[]): Promise<FakeAgent> => {
  const a = await FakeAgent.connect({
    url: `${op.url.replace('http', 'ws')}/v1/agents`,
    pod: { name, namespace: 'default', uid: '' },
    labels: { app: 'shop' },
    catalogue: catalogue.map((type) => ({ type, count: 5, errors: 0, p50Ms: 1, p90Ms: 2, p99Ms: 3 })),
  });
  agents.push(a);
  return a;
};
const create = async (name: string, spec: Record<string, unknown>): Promise<SessionView> => {
  const res = await fetch(`${op.url}/api/v1/sessions`, { method: 'POST', headers: json, body: JSON.stringify({ name, spec: { selector: { matchLabels: { app: 'shop' } }, ...spec } }) });
  expect(res.status).toBe(201);
  return (await res.json()) as SessionView;
};
const get = async (id: string): Promise<SessionView> => (await (await fetch(`${op.url}/api/v1/sessions/${id}`)).json()) as SessionView;
const until = (id: string, ok: (v: SessionView) => boolean, what: string) => eventually(async () => ((v) => (ok(v) ? v : undefined))(await get(id)), 15_000, what);

beforeAll(async () => {
  checkPrerequisites();
  dir = mkdtempSync(join(tmpdir(), 'sonde-ui-outcomes-'));
  const config = loadConfig(['--standalone', '--port', '0', '--data', join(dir, 'data'), '--ui-dir', UI_DIR, '--log-level', 'warn'], {}, dir);
  op = await startOperator(config, { logDestination: new LogSink() });
  browser = await launch();
});

afterAll(async () => {
  for (const a of agents) if (a.isOpen) await a.kill();
  await browser?.close();
  await op?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('what a session page says about its outcome', () => {
  it('warns while no agent has reported the request type, and the warning goes once an agent reports it', async () => {
    const a = await agent('shop-0', [ORDERS]);
    const s = await create('typo', { request: 'GET /api/order/:id', requests: 5, duration: '1m' });
    await a.waitFor((m) => m.type === 'start' && m.session === s.id);
    const { page, errors, close } = await openPage(browser, `${op.url}/#/sessions/${s.id}`);
    const warning = page.locator('.session-head .banner-warning');
    await warning.waitFor({ state: 'visible' });
    const text = await warning.innerText();
    expect(text).toContain('Request type not seen yet.');
    expect(text).toContain('"GET /api/order/:id"');
    expect(text).toContain(`agents here reported "${ORDERS}"`);
    await shot(page, 'session-unknown-type');
    // The sessions list marks it too, with the whole warning as the tooltip.
    const list = await openPage(browser, `${op.url}/#/sessions`);
    const mark = list.page.locator(`tr[data-id="${s.id}"] .type-unseen`);
    await mark.waitFor();
    expect(await mark.innerText()).toBe('not seen yet');
    expect(await mark.getAttribute('title')).toContain('"GET /api/order/:id"');
    await list.close();
    // The type shows up in the agent's catalogue: the live page drops the warning.
    a.send({ type: 'catalogue', entries: [{ type: 'GET /api/order/:id', count: 1, errors: 0, p50Ms: 1, p90Ms: 1, p99Ms: 1 }] });
    await warning.waitFor({ state: 'detached' });
    expect(unexpectedErrors(errors)).toEqual([]);
    await close();
    await fetch(`${op.url}/api/v1/sessions/${s.id}`, { method: 'DELETE' });
  });

  it('says "Nothing profiled" (Failed, not a green 0/N) when the deadline comes without a request', async () => {
    await agent('shop-1', ['GET /b']);
    const s = await create('quiet', { request: 'GET /never', requests: 5, duration: '1s' });
    const v = await until(s.id, (x) => x.status.phase === 'Failed', 'the session to fail');
    expect(v.status.conditions.find((c) => c.type === 'Complete')?.reason).toBe('NothingProfiled');
    const { page, errors, close } = await openPage(browser, `${op.url}/#/sessions/${s.id}`);
    const banner = page.locator('.session-head .banner-nothing');
    await banner.waitFor({ state: 'visible' });
    expect(await banner.innerText()).toMatch(/^Nothing profiled\. \d agents? (was|were) sampling until the deadline and no agent ever reported a "GET \/never" request/);
    await expect(page.locator('.session-head .badge').innerText()).resolves.toBe('Failed');
    // Once Failed the "not seen yet" warning gives way to the outcome.
    expect(await page.locator('.session-head .banner-warning').count()).toBe(0);
    await shot(page, 'session-nothing-profiled');
    expect(unexpectedErrors(errors, [/Failed to load resource/])).toEqual([]);
    await close();
  });

  it('shows a count above N with the figure the status and conditions give, and says why', async () => {
    const [a, b] = [await agent('shop-2', [ORDERS]), await agent('shop-3', [ORDERS])];
    const s = await create('over', { selector: { matchLabels: { app: 'shop' } }, request: ORDERS, requests: 3, duration: '1m' });
    await Promise.all([a, b].map((x) => x.waitFor((m) => m.type === 'start' && m.session === s.id)));
    a.report(s.id, [fakeRequest(ORDERS, { id: 'a1' }), fakeRequest(ORDERS, { id: 'a2' })]);
    b.report(s.id, [fakeRequest(ORDERS, { id: 'b1' }), fakeRequest(ORDERS, { id: 'b2' })]);
    const v = await until(s.id, (x) => x.status.phase === 'Completed' && x.status.requestsProfiled === 4, 'Completed 4/3');
    expect(v.status.conditions.find((c) => c.type === 'Complete')?.message).toMatch(/^4 requests profiled \(asked 3\): 1 more were already under way/);

    const { page, errors, close } = await openPage(browser, `${op.url}/#/sessions/${s.id}`);
    const note = page.locator('.session-head [data-testid="overshoot"]');
    await note.waitFor({ state: 'visible' });
    expect(await note.innerText()).toMatch(/^4 of 3: 1 more request was already under way when the agents were told to stop\./);
    const progress = page.locator('.session-head .progress-text');
    expect((await progress.innerText()).trim()).toMatch(/^4\/3/);
    expect(await progress.getAttribute('title')).toContain('already under way');
    // A late request (in flight at the stop) moves the page, the status and the condition together.
    a.report(s.id, [fakeRequest(ORDERS, { id: 'a3' })]);
    await page.locator('.session-head [data-testid="overshoot"]', { hasText: '5 of 3: 2 more requests' }).waitFor();
    const after = await get(s.id);
    expect(after.status.progress).toBe('5/3');
    expect(after.status.conditions.find((c) => c.type === 'Complete')?.message).toMatch(/^5 requests profiled \(asked 3\)/);
    await shot(page, 'session-overshoot');
    expect(unexpectedErrors(errors)).toEqual([]);
    await close();

    // The sessions list shows the same figure with the explanation on hover.
    const list = await openPage(browser, `${op.url}/#/sessions`);
    const row = list.page.locator('tr', { hasText: 'over' }).locator('.progress-text');
    await row.waitFor();
    expect((await row.innerText()).trim()).toMatch(/^5\/3/);
    expect(await row.getAttribute('title')).toContain('2 more requests were already under way');
    await list.close();
  });
});
