import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, startOperator, type RunningOperator } from '../../operator/main.js';
import { startAuthRig, type AuthRig } from '../operator/auth/auth-rig.js';
import { checkPrerequisites, launch, openPage, shot, UI_DIR, unexpectedErrors } from './browser.js';

/**
 * The UI against real operators that want a token: the prompt appears, a refused token says so, a good
 * one shows the sessions (and the live stream carries it, never in a URL); a Kubernetes token that
 * reaches no namespace says that too. What is drawn is checked, not just what was fetched.
 */
const TOKEN = 'ui-shared-token-123';
// Chromium logs every 401 answer as a console error; those are the point of this test.
const EXPECTED = [/401 \(Unauthorized\)/];

let browser: Browser;
let op: RunningOperator;
let dir: string;

beforeAll(async () => {
  checkPrerequisites();
  browser = await launch();
  dir = mkdtempSync(join(tmpdir(), 'sonde-ui-auth-'));
  const quiet = new Writable({ write: (_c, _e, done) => done() });
  op = await startOperator(loadConfig(['--standalone', '--port', '0', '--data', join(dir, 'data'), '--ui-dir', UI_DIR], { SONDE_TOKEN: TOKEN }, dir), { logDestination: quiet });
  const res = await fetch(`${op.url}/api/v1/sessions`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'checkout-orders', namespace: 'shop', spec: { selector: { matchLabels: { app: 'checkout' } }, request: 'GET /api/orders/:id' } }) });
  expect(res.status).toBe(201);
});

afterAll(async () => {
  await browser?.close();
  await op?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the UI when the API needs a token', () => {
  it('asks for a token, says when one is refused, and shows the sessions with a good one', async () => {
    const { page, errors, close } = await openPage(browser, `${op.url}/#/sessions`);
    const urls: string[] = [];
    page.on('request', (r) => urls.push(r.url()));
    await page.waitForSelector('form.token-form');
    expect(await page.textContent('#token-title')).toBe('This Sonde needs a token');
    expect(await page.isVisible('#app')).toBe(false);
    await shot(page, 'token-prompt');

    await page.fill('#sonde-token', 'not-the-token');
    await page.click('form.token-form button[type=submit]');
    await page.waitForSelector('.token-error');
    expect(await page.textContent('#token-title')).toBe('The token was refused');
    expect(await page.textContent('.token-error')).toContain('not this operator\'s SONDE_TOKEN');
    await shot(page, 'token-refused');

    await page.fill('#sonde-token', `${TOKEN}\n`);
    await page.click('form.token-form button[type=submit]');
    await page.waitForSelector('table.sessions tbody tr');
    const rows = await page.$$eval('table.sessions tbody tr', (trs) => trs.map((tr) => tr.querySelector('td')?.textContent?.trim()));
    expect(rows).toEqual(['checkout-ordersshop']);
    expect(await page.isVisible('form.token-form')).toBe(false);
    expect(await page.textContent('.signed-in .user')).toBe('token');
    // The live stream runs over fetch with the header: the dot turns on.
    await page.waitForSelector('.live-dot.on');
    expect(await page.evaluate(() => sessionStorage.getItem('sonde.token'))).toBe(TOKEN);
    expect(urls.filter((u) => u.includes(TOKEN) || u.includes('not-the-token'))).toEqual([]);
    await shot(page, 'token-accepted');

    // A reload keeps the tab's token.
    await page.reload();
    await page.waitForSelector('table.sessions tbody tr');
    expect(await page.isVisible('form.token-form')).toBe(false);
    expect(unexpectedErrors(errors, EXPECTED)).toEqual([]);
    await close();
  });
});

describe('the UI with --auth kubernetes', () => {
  let rig: AuthRig;
  beforeAll(async () => {
    rig = await startAuthRig({ uiDir: UI_DIR });
    rig.engine.apply({ id: 's-shop', name: 'orders', namespace: 'shop', source: 'kubernetes', createdAt: new Date().toISOString(), generation: 1, spec: { request: 'GET /orders' } });
    rig.engine.apply({ id: 's-bank', name: 'ledger', namespace: 'bank', source: 'kubernetes', createdAt: new Date().toISOString(), generation: 1, spec: { request: 'POST /transfer' } });
    rig.fake.policy.allow('alice', 'shop', ['get', 'list']);
  });
  afterAll(async () => {
    await rig?.close();
  });

  it('shows only the namespaces a token may read, and says when it may read none', async () => {
    const alice = await openPage(browser, `${rig.base}/#/sessions`);
    await alice.page.waitForSelector('form.token-form');
    await alice.page.fill('#sonde-token', rig.fake.tokens.issueUserToken('alice'));
    await alice.page.click('form.token-form button[type=submit]');
    await alice.page.waitForSelector('table.sessions tbody tr');
    const names = await alice.page.$$eval('table.sessions tbody tr', (trs) => trs.map((tr) => tr.querySelector('td')?.textContent?.trim()));
    expect(names).toEqual(['ordersshop']);
    expect(await alice.page.textContent('.signed-in .user')).toBe('alice');
    expect(await alice.page.isVisible('.access-notice')).toBe(false);
    expect(unexpectedErrors(alice.errors, EXPECTED)).toEqual([]);
    await alice.close();

    const bob = await openPage(browser, `${rig.base}/#/sessions`);
    await bob.page.waitForSelector('form.token-form');
    await bob.page.fill('#sonde-token', rig.fake.tokens.issueUserToken('bob'));
    await bob.page.click('form.token-form button[type=submit]');
    await bob.page.waitForSelector('.access-notice:not([hidden])');
    expect(await bob.page.textContent('.access-notice')).toContain('bob may not list ProfilingSessions in any namespace');
    expect(await bob.page.$$('table.sessions tbody tr')).toHaveLength(0);
    await shot(bob.page, 'token-no-namespace');
    expect(unexpectedErrors(bob.errors, EXPECTED)).toEqual([]);
    await bob.close();
  });
});
