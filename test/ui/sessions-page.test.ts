import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { SessionView } from '../../src/session/types.js';
import { checkPrerequisites, fixtures, launch, openPage, recorded, serve, shot, unexpectedErrors, type Fixtures, type ReplayServer } from './browser.js';

/** The sessions page in a real Chromium: list, live progress, empty state, the start form, errors. */

let browser: Browser;
let main: Fixtures;
const servers: ReplayServer[] = [];

beforeAll(async () => {
  checkPrerequisites();
  browser = await launch();
  main = fixtures('standalone');
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await browser?.close();
});

async function server(f: Fixtures, options: { replayEvents?: boolean; eventDelayMs?: number } = {}): Promise<ReplayServer> {
  const s = await serve(f, options);
  servers.push(s);
  return s;
}

describe('sessions page', () => {
  it('lists every session with its phase, progress, request type, pods, selector and age', async () => {
    const srv = await server(main);
    const { page, errors, close } = await openPage(browser, `${srv.url}#/sessions`);
    await page.waitForSelector('table.sessions tbody tr');
    const expected = recorded<{ items: SessionView[] }>(main, '/api/v1/sessions').items;
    const rows = await page.$$eval('table.sessions tbody tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent?.trim() ?? '')));
    expect(rows).toHaveLength(expected.length);
    expected.forEach((s, i) => {
      const [name, phase, progress, request, pods, selector, age] = rows[i]!;
      expect(name).toBe(`${s.name}${s.namespace}`);
      expect(phase).toBe(s.status.phase);
      expect(progress).toBe(`${s.status.requestsProfiled}/${s.spec.requests}`);
      expect(request).toBe(s.spec.request);
      expect(pods).toContain(s.status.pods.length ? `${s.status.pods.length} pods` : 'waiting for pods');
      expect(selector).toBe(Object.entries(s.spec.selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(', '));
      expect(age).toMatch(/^\d+(s|m|h|d)/);
    });
    // standalone: the form is one click away
    await expect(page.locator('.start-toggle').textContent()).resolves.toBe('Start a session');
    await shot(page, 'sessions');
    await page.click('table.sessions a.session-link >> text=orders-after');
    await page.waitForSelector('.session-head h1');
    expect(await page.textContent('.session-head h1')).toBe('orders-after');
    expect(new URL(page.url()).hash).toBe(`#/sessions/${main.meta['sessions'].ordersAfter}`);
    expect(unexpectedErrors(errors)).toEqual([]);
    expect(srv.unmatched).toEqual([]);
    await close();
  });

  it('shows live progress pushed over /api/v1/events', async () => {
    const live = fixtures('live');
    const srv = await server(live, { replayEvents: true, eventDelayMs: 120 });
    const { page, errors, close } = await openPage(browser, `${srv.url}#/sessions`);
    const id = live.meta['sessions'].orders;
    const row = page.locator(`tr[data-id="${id}"]`);
    await row.waitFor();
    const first = await row.locator('.progress-text').textContent();
    expect(first).toBe('0/200');
    const sessionEvents = live.events.filter((e) => e.event === 'session').map((e) => e.data as SessionView);
    const last = sessionEvents[sessionEvents.length - 1]!;
    // Every step the page showed, until the last event's state arrives.
    const seen = new Set<string>([first!]);
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      seen.add((await row.locator('.progress-text').textContent()) ?? '');
      if ((await row.getAttribute('data-phase')) === last.status.phase && seen.has(`${last.status.requestsProfiled}/200`)) break;
      await page.waitForTimeout(40);
    }
    expect(seen.has(`${last.status.requestsProfiled}/200`)).toBe(true);
    expect(seen.size).toBeGreaterThanOrEqual(3); // it moved through intermediate steps, not just start and end
    await expect(row.locator('.badge').textContent()).resolves.toBe(last.status.phase);
    await expect(page.locator('.live-dot.on').count()).resolves.toBe(1);
    await shot(page, 'sessions-live');
    expect(unexpectedErrors(errors)).toEqual([]);
    await close();
  });

  it('updates a running session\'s page header live, and offers the new requests', async () => {
    const live = fixtures('live', 'standalone');
    const srv = await server(live, { replayEvents: true, eventDelayMs: 120 });
    const id = live.meta['sessions'].orders;
    const { page, errors, close } = await openPage(browser, `${srv.url}#/sessions/${id}`);
    await page.waitForSelector('.session-head .progress-text');
    const last = live.events.filter((e) => e.event === 'session').map((e) => e.data as SessionView).pop()!;
    await page.waitForFunction((want) => document.querySelector('.session-head .progress-text')?.textContent === want, `${last.status.requestsProfiled}/200`, { timeout: 20_000 });
    expect(await page.textContent('.session-head .badge')).toBe(last.status.phase);
    expect(unexpectedErrors(errors)).toEqual([]);
    await close();
  });

  it('says how to start the first session when there is none: the kubectl apply, and the form in standalone mode', async () => {
    const empty = fixtures('empty');
    const srv = await server(empty);
    const { page, errors, close } = await openPage(browser, `${srv.url}#/sessions`);
    await page.waitForSelector('.state-empty');
    expect(await page.textContent('.state-empty h2')).toBe('No profiling sessions yet');
    const yaml = await page.textContent('.state-empty pre.snippet');
    expect(yaml).toMatch(/^kubectl apply -f - <<EOF\n/);
    expect(yaml).toContain('kind: ProfilingSession');
    expect(yaml).toContain('apiVersion: sonde.dev/v1alpha1');
    expect(yaml).toMatch(/EOF$/);
    // the form lists the agents' catalogue with counts and percentiles
    const types = recorded<{ items: { type: string; count: number }[] }>(empty, '/api/v1/request-types').items;
    const rows = await page.$$eval('table.request-types tbody tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent?.trim() ?? '')));
    expect(rows.map((r) => r[1]).sort()).toEqual(types.map((t) => t.type).sort());
    const top = [...types].sort((a, b) => b.count - a.count)[0]!;
    expect(rows[0]![1]).toBe(top.type);
    expect(rows[0]![2]).toBe(top.count.toLocaleString('en'));
    expect(rows[0]![3]).toMatch(/(µs|ms|s)$/);
    await shot(page, 'sessions-empty', true);
    expect(unexpectedErrors(errors)).toEqual([]);
    await close();
  });

  it('starts a session from the form, and shows the API\'s conflict and validation errors with their messages', async () => {
    const f = fixtures('empty', 'standalone');
    const srv = await server(f);
    const form = f.meta['form'] as { name: string; spec: { request: string; requests: number; duration: string; sampleInterval: string } };
    const fill = async (page: import('playwright-core').Page, name: string, requests: string, duration: string): Promise<void> => {
      await page.waitForSelector('form.start');
      await page.check(`input[name=request][value="${form.spec.request}"]`);
      await page.fill('input[name=name]', name);
      await page.fill('input[name=selector]', 'app=shop');
      await page.fill('input[name=requests]', requests);
      await page.fill('input[name=duration]', duration);
      await page.fill('input[name=sampleInterval]', form.spec.sampleInterval);
      await page.click('form.start button[type=submit]');
    };
    const allowed = [/status of 409/, /status of 400/];
    const { page, errors, close } = await openPage(browser, `${srv.url}#/sessions`);
    await fill(page, form.name, String(form.spec.requests), form.spec.duration);
    await page.waitForSelector('.session-head h1');
    expect(await page.textContent('.session-head h1')).toBe(form.name);
    expect(new URL(page.url()).hash).toBe(`#/sessions/${f.meta['sessions'].searchForm}`);
    await page.waitForSelector('.chart-card .flame-bars li');

    // the same name again: 409 from the operator, its message on the form
    await page.goto(`${srv.url}#/sessions`);
    await page.reload();
    await fill(page, form.name, String(form.spec.requests), form.spec.duration);
    await page.waitForSelector('.form-errors .form-error');
    expect(await page.textContent('.form-errors')).toMatch(/already exists/);

    // an invalid spec: 400 with one problem per field
    await fill(page, 'bad-spec', '0', '2h');
    await page.waitForSelector('.form-errors .problems li');
    const problems = await page.$$eval('.form-errors .problems li', (lis) => lis.map((li) => li.textContent ?? ''));
    expect(problems.some((p) => p.startsWith('spec.requests'))).toBe(true);
    expect(problems.some((p) => p.startsWith('spec.duration'))).toBe(true);
    // each problem is said once, in the list, not a second time in a run-on summary above it
    const said = (await page.textContent('.form-errors')) ?? '';
    for (const p of problems) expect(said.split(p.replace(/^spec\.\w+ /, '')).length - 1, p).toBe(1);
    expect(await page.textContent('.form-errors p.form-error')).toMatch(/^The operator refused this session \(SONDE_\w+\): 2 problems to fix\.$/);
    await shot(page, 'start-form-errors', true);
    expect(await page.isEnabled('form.start button[type=submit]')).toBe(true);
    expect(unexpectedErrors(errors, allowed)).toEqual([]);
    expect(srv.unmatched).toEqual([]);
    await close();
  });

  it('says the operator is unreachable, with what to check, and recovers on "Try again"', async () => {
    const srv = await server(main);
    const allowed = [/ERR_EMPTY_RESPONSE|ERR_CONNECTION|Failed to load resource/];
    const { page, errors, close } = await openPage(browser, `${srv.url}#/sessions`);
    await page.waitForSelector('table.sessions');
    srv.setUnreachable(true);
    await page.goto(`${srv.url}#/hotspots`);
    await page.waitForSelector('.state-error');
    expect(await page.textContent('.state-error h2')).toBe('The Sonde operator is unreachable');
    // The hint names the port this page came from (a random one here), not a fixed 7070.
    const port = new URL(srv.url).port;
    expect(await page.textContent('.state-error pre')).toContain(`port-forward deploy/sonde ${port}:7071`);
    expect(await page.textContent('.state-error pre')).toContain(`sonde operator --standalone --port ${port}`);
    expect(await page.textContent('.state-error')).not.toContain('7070');
    await expect(page.locator('.live-dot.on').count()).resolves.toBe(0);
    await shot(page, 'unreachable');
    srv.setUnreachable(false);
    await page.click('.state-error button:has-text("Try again")');
    await page.waitForSelector('table.hotspots-global tbody tr');
    // and the live stream comes back by itself
    await page.waitForSelector('.live-dot.on', { timeout: 10_000 });
    expect(unexpectedErrors(errors, allowed)).toEqual([]);
    await close();
  });

  it('shows the API\'s error for an unknown session, and a page for an unknown link', async () => {
    const srv = await server(main);
    const { page, errors, close } = await openPage(browser, `${srv.url}#/sessions/no-such-session`);
    await page.waitForSelector('.state-error');
    const body = recorded<{ error: { message: string; code: string } }>(main, '/api/v1/sessions/no-such-session').error;
    expect(await page.textContent('.state-error .error-message')).toBe(body.message);
    expect(await page.textContent('.state-error')).toContain(body.code);
    // only the error: no chart, no cards around nothing, no canvas (an opaque one shows black)
    await expect(page.locator('.page-body').isVisible()).resolves.toBe(false);
    expect(await page.$$eval('canvas', (cs) => cs.filter((c) => c.getBoundingClientRect().width > 0).length)).toBe(0);
    await shot(page, 'session-unknown');
    await page.goto(`${srv.url}#/no/such/page`);
    await page.waitForSelector('.state-empty h2');
    expect(await page.textContent('.state-empty h2')).toBe('No such page');
    expect(unexpectedErrors(errors, [/status of 404/])).toEqual([]);
    await close();
  });
});
