import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionView } from '../../../src/session/types.js';
import { fakeRequest } from '../../harness/fake-agent.js';
import { eventually } from '../../harness/eventually.js';
import { type AuthRig, get, openStream, startAuthRig } from './auth-rig.js';

/**
 * `--auth kubernetes` end to end over real sockets: people's tokens reviewed by the (fake) API server,
 * access per namespace by SubjectAccessReview. alice may list ProfilingSessions in `shop` only, root
 * everywhere (a ClusterRoleBinding), bob nowhere. Everything in `bank` must stay invisible to alice.
 */
let rig: AuthRig;
let shop: SessionView;
let bank: SessionView;
let alice: string;
let root: string;
let bob: string;

async function completed(id: string): Promise<SessionView> {
  return eventually(() => {
    const v = rig.engine.get(id) ?? rig.store.getSession(id);
    return v?.status.phase === 'Completed' && v.status.requestsProfiled === 2 ? v : undefined;
  }, 15_000, `session ${id} completed`);
}

beforeAll(async () => {
  rig = await startAuthRig();
  rig.fake.policy.allow('alice', 'shop', ['get', 'list', 'watch']);
  rig.fake.policy.allow('group:sre', '*', ['get', 'list', 'watch']);
  rig.fake.policy.allowPath('group:sre', '/metrics');
  alice = rig.fake.tokens.issueUserToken('alice');
  root = rig.fake.tokens.issueUserToken('root', { groups: ['sre'] });
  bob = rig.fake.tokens.issueUserToken('bob');

  const shop0 = await rig.connect({ name: 'shop-0', namespace: 'shop' }, { app: 'shop' }, [{ type: 'GET /orders', count: 5 }]);
  const bank0 = await rig.connect({ name: 'bank-0', namespace: 'bank' }, { app: 'bank' }, [{ type: 'POST /transfer', count: 7 }]);
  const apply = (id: string, namespace: string, app: string, request: string): void =>
    void rig.engine.apply({ id, name: app, namespace, source: 'kubernetes', createdAt: new Date().toISOString(), generation: 1, spec: { selector: { matchLabels: { app } }, request, requests: 2, duration: '1m' } });
  apply('s-shop', 'shop', 'shop', 'GET /orders');
  apply('s-bank', 'bank', 'bank', 'POST /transfer');
  await shop0.waitFor((m) => m.type === 'start' && m.session === 's-shop');
  await bank0.waitFor((m) => m.type === 'start' && m.session === 's-bank');
  shop0.report('s-shop', [fakeRequest('GET /orders', { hot: 'priceOrder' }), fakeRequest('GET /orders', { hot: 'priceOrder' })]);
  bank0.report('s-bank', [fakeRequest('POST /transfer', { hot: 'moveMoney' }), fakeRequest('POST /transfer', { hot: 'moveMoney' })]);
  shop = await completed('s-shop');
  bank = await completed('s-bank');
});

afterAll(async () => {
  await rig?.close();
});

const PROTECTED = ['/api/v1/sessions', '/api/v1/sessions/s-shop', '/api/v1/sessions/s-shop/tree', '/api/v1/sessions/s-shop/tree?format=collapsed', '/api/v1/sessions/s-shop/requests', '/api/v1/hotspots', '/api/v1/agents', '/api/v1/request-types', '/api/v1/events', '/api/v1/access', '/metrics'];

describe('--auth kubernetes: who', () => {
  it('answers 401 with a Bearer challenge without a token, for every resource and the event stream', async () => {
    for (const path of PROTECTED) {
      const res = await get(rig.base, path);
      expect(res.status, path).toBe(401);
      expect(res.body.error.code, path).toBe('SONDE_AUTH_REQUIRED');
      expect(res.headers.get('www-authenticate'), path).toBe('Bearer realm="sonde"');
    }
    // Probes and the UI's own files need no token; info says a token is needed.
    expect((await get(rig.base, '/healthz')).status).toBe(200);
    expect((await get(rig.base, '/api/v1/info')).body).toMatchObject({ mode: 'cluster', auth: 'kubernetes' });
  });

  it('refuses unknown tokens, malformed headers and an agent\'s projected token (audience sonde)', async () => {
    expect((await get(rig.base, '/api/v1/sessions', 'not-a-real-token')).body.error.code).toBe('SONDE_TOKEN_REFUSED');
    const res = await fetch(`${rig.base}/api/v1/sessions`, { headers: { authorization: 'Basic YWxpY2U6cHc=' } });
    expect(res.status).toBe(401);
    const podToken = rig.fake.tokens.issuePodToken({ name: 'shop-0', namespace: 'shop', uid: 'uid-shop-0' });
    const asPerson = await get(rig.base, '/api/v1/sessions', podToken);
    expect(asPerson.status).toBe(401);
    expect(asPerson.body.error.message).toMatch(/audiences/);
  });
});

describe('--auth kubernetes: what, per namespace', () => {
  it('lists only the sessions of namespaces the caller may list', async () => {
    const ids = async (token: string, q = ''): Promise<string[]> => (await get(rig.base, `/api/v1/sessions${q}`, token)).body.items.map((s: SessionView) => s.id).sort();
    expect(await ids(root)).toEqual(['s-bank', 's-shop']);
    expect(await ids(alice)).toEqual(['s-shop']);
    expect(await ids(alice, '?namespace=bank')).toEqual([]);
    expect(await ids(bob)).toEqual([]);
    expect((await get(rig.base, '/api/v1/access', alice)).body).toEqual({ user: 'alice', namespaces: ['shop'], write: false, expiresAt: expect.any(String) });
    expect((await get(rig.base, '/api/v1/access', root)).body).toMatchObject({ user: 'root', namespaces: 'all' });
    expect((await get(rig.base, '/api/v1/access', bob)).body).toMatchObject({ user: 'bob', namespaces: [] });
  });

  it('answers 404 (not 403) for a session, its tree, requests and exports in a namespace the caller cannot read', async () => {
    for (const ref of [bank.id, encodeURIComponent('bank/bank')]) {
      for (const suffix of ['', '/tree', '/tree?format=collapsed', '/tree?format=pprof', '/requests']) {
        const res = await get(rig.base, `/api/v1/sessions/${ref}${suffix}`, alice);
        expect(res.status, ref + suffix).toBe(404);
        expect(res.body.error.code).toBe('SONDE_NOT_FOUND');
        // The same answer as for a session that does not exist: nothing confirms it is there.
        expect(res.body.error.message).toBe(`No such object: no session ${JSON.stringify(decodeURIComponent(ref))}`);
      }
    }
    const own = await get(rig.base, `/api/v1/sessions/${shop.id}/tree?format=collapsed`, alice);
    expect(own.status).toBe(200);
    expect(own.body).toContain('priceOrder');
    const rootsView = await get(rig.base, `/api/v1/sessions/${bank.id}/tree?format=collapsed`, root);
    expect(rootsView.body).toContain('moveMoney');
  });

  it('computes hotspots, cluster-wide too, from readable namespaces only', async () => {
    const names = (body: any): string[] => body.items.map((h: { frame: { name: string } }) => h.frame.name);
    const all = await get(rig.base, '/api/v1/hotspots', root);
    expect(names(all.body)).toEqual(expect.arrayContaining(['priceOrder', 'moveMoney']));
    const mine = await get(rig.base, '/api/v1/hotspots', alice);
    expect(names(mine.body)).toContain('priceOrder');
    expect(names(mine.body)).not.toContain('moveMoney');
    expect(JSON.stringify(mine.body)).not.toContain('bank');
    expect((await get(rig.base, '/api/v1/hotspots?namespace=bank', alice)).body).toEqual({ items: [], totalUs: 0, roots: [] });
    expect((await get(rig.base, '/api/v1/hotspots', bob)).body).toEqual({ items: [], totalUs: 0, roots: [] });
  });

  it('shows agents and the request-type catalogue of readable namespaces only', async () => {
    const agents = await get(rig.base, '/api/v1/agents', alice);
    expect(agents.body.items.map((a: { pod: { name: string } }) => a.pod.name)).toEqual(['shop-0']);
    const types = await get(rig.base, '/api/v1/request-types', alice);
    expect(types.body.items.map((t: { type: string }) => t.type)).toEqual(['GET /orders']);
    expect((await get(rig.base, '/api/v1/request-types', root)).body.items).toHaveLength(2);
    expect((await get(rig.base, '/api/v1/agents', bob)).body.items).toEqual([]);
  });

  it('streams events of readable namespaces only, with the agent count the caller may see', async () => {
    const mine = await openStream(`${rig.base}/api/v1/events`, { authorization: `Bearer ${alice}` });
    const all = await openStream(`${rig.base}/api/v1/events`, { authorization: `Bearer ${root}` });
    const none = await openStream(`${rig.base}/api/v1/events`);
    try {
      expect(none.res.statusCode).toBe(401);
      await eventually(() => (mine.text().includes('event: agents') && all.text().includes('event: agents') ? true : undefined), 5000, 'agent counts');
      expect(mine.text()).toContain('data: {"count":1}');
      expect(all.text()).toContain('data: {"count":2}');
      rig.engine.apply({ id: 's-bank-2', name: 'bank-2', namespace: 'bank', source: 'kubernetes', createdAt: new Date().toISOString(), generation: 1, spec: { request: 'GET /secret-route' } });
      rig.engine.apply({ id: 's-shop-2', name: 'shop-2', namespace: 'shop', source: 'kubernetes', createdAt: new Date().toISOString(), generation: 1, spec: { request: 'GET /cart' } });
      await eventually(() => (mine.text().includes('"id":"s-shop-2"') && all.text().includes('"id":"s-shop-2"') ? true : undefined), 5000, 'session events');
      expect(all.text()).toContain('"id":"s-bank-2"');
      expect(mine.text()).not.toContain('s-bank-2');
      expect(mine.text()).not.toContain('secret-route');
    } finally {
      mine.destroy();
      all.destroy();
      none.destroy();
    }
  });

  it('ends an event stream when the token that opened it expires', async () => {
    const expiresAt = Math.ceil((Date.now() + 1200) / 1000) * 1000;
    rig.fake.policy.allow('erin', 'shop', ['list']);
    const stream = await openStream(`${rig.base}/api/v1/events`, { authorization: `Bearer ${rig.fake.tokens.issueUserToken('erin', { expiresAt })}` });
    expect(stream.res.statusCode).toBe(200);
    await stream.ended;
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt - 5);
    expect(Date.now()).toBeLessThan(expiresAt + 1000);
  });

  it('ends every stream after sseMaxMs, so a reconnect is authorised again and a revoked Role takes effect', async () => {
    const { buildServer } = await import('../../../operator/api/server.js');
    const { KubernetesAccess } = await import('../../../operator/auth/kubernetes-access.js');
    const { AccessReviewClient } = await import('../../../operator/auth/subject-access-review.js');
    const { fakeKubeConfig } = await import('../../fake-kube/index.js');
    const { log } = await import('./auth-rig.js');
    const access = new KubernetesAccess({ tokens: rig.tokens, reviews: new AccessReviewClient({ kubeConfig: fakeKubeConfig(rig.fake), log, ttlMs: 0 }), knownNamespaces: () => ['shop', 'bank'], log });
    const app = buildServer({ reader: rig.store, engine: rig.engine, hub: rig.hub, mode: 'cluster', ready: () => true, log, uiDir: '/nonexistent', version: '1.0.0', access, sseMaxMs: 400 });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/api/v1/events`;
    try {
      rig.fake.policy.allow('frank', 'shop', ['list']);
      const auth = { authorization: `Bearer ${rig.fake.tokens.issueUserToken('frank')}` };
      const first = await openStream(url, auth);
      const t0 = Date.now();
      await first.ended;
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(first.text()).toContain('data: {"count":1}');
      rig.fake.policy.revoke('frank');
      const second = await openStream(url, auth);
      await second.ended;
      expect(second.text()).toContain('data: {"count":0}');
    } finally {
      await app.close();
    }
  });

  it('guards /metrics with a non-resource SubjectAccessReview', async () => {
    expect((await get(rig.base, '/metrics', alice)).status).toBe(403);
    const ok = await get(rig.base, '/metrics', root);
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('sonde_');
  });

  it('costs one TokenReview and a bounded number of access reviews per new caller, and none once cached', async () => {
    const carol = rig.fake.tokens.issueUserToken('carol');
    rig.fake.policy.allow('carol', 'bank', ['list']);
    const before = { tokens: rig.tokens.reviews, sars: rig.reviews.reviews };
    const first = await get(rig.base, '/api/v1/sessions', carol);
    expect(first.body.items.map((s: SessionView) => s.namespace)).toEqual(expect.arrayContaining(['bank']));
    expect(first.body.items.every((s: SessionView) => s.namespace === 'bank')).toBe(true);
    // One TokenReview; one cluster-wide review (no), then one per namespace Sonde knows (bank, shop).
    expect(rig.tokens.reviews - before.tokens).toBe(1);
    expect(rig.reviews.reviews - before.sars).toBe(3);
    // A page's burst of requests afterwards: answered from the caches.
    await Promise.all(['/api/v1/sessions', '/api/v1/agents', '/api/v1/hotspots', '/api/v1/request-types', `/api/v1/sessions/${bank.id}`].map((p) => get(rig.base, p, carol)));
    expect(rig.tokens.reviews - before.tokens).toBe(1);
    expect(rig.reviews.reviews - before.sars).toBe(3);
  });

  it('costs no reviews for 500 requests of a cached caller; prints the per-request cost beside an unauthenticated server', async () => {
    const before = { tokens: rig.tokens.reviews, sars: rig.reviews.reviews };
    const { buildServer } = await import('../../../operator/api/server.js');
    const { log } = await import('./auth-rig.js');
    const open = buildServer({ reader: rig.store, engine: rig.engine, hub: rig.hub, mode: 'cluster', ready: () => true, log, uiDir: '/nonexistent', version: '1.0.0' });
    await open.ready();
    const time = async (fn: () => Promise<unknown>): Promise<number> => {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 500; i++) await fn();
      return Number(process.hrtime.bigint() - t0) / 500 / 1000;
    };
    const headers = { authorization: `Bearer ${alice}` };
    await rig.app.inject({ url: '/api/v1/sessions', headers });
    const rounds: { auth: number; none: number }[] = [];
    for (let r = 0; r < 3; r++) {
      rounds.push({ auth: await time(() => rig.app.inject({ url: '/api/v1/sessions', headers })), none: await time(() => open.inject({ url: '/api/v1/sessions' })) });
    }
    await open.close();
    expect(rig.tokens.reviews).toBe(before.tokens);
    expect(rig.reviews.reviews).toBe(before.sars);
    const med = (xs: number[]): number => xs.sort((a, b) => a - b)[1]!;
    console.log(`GET /api/v1/sessions via inject, µs per request (median of 3 × 500): --auth kubernetes cached ${med(rounds.map((r) => r.auth)).toFixed(0)}, none ${med(rounds.map((r) => r.none)).toFixed(0)}`);
  });

  it('refuses writes in a cluster whatever the token', async () => {
    const res = await fetch(`${rig.base}/api/v1/sessions`, { method: 'POST', headers: { authorization: `Bearer ${root}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x', spec: { request: 'GET /' } }) });
    expect(res.status).toBe(405);
    const del = await fetch(`${rig.base}/api/v1/sessions/${shop.id}?purge=true`, { method: 'DELETE', headers: { authorization: `Bearer ${root}` } });
    expect(del.status).toBe(405);
  });

  it('answers 503, not a guess, when the API server cannot review', async () => {
    const dave = rig.fake.tokens.issueUserToken('dave');
    rig.fake.failNext({ path: '/tokenreviews', code: 500 });
    const res = await get(rig.base, '/api/v1/sessions', dave);
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('SONDE_AUTH_UNAVAILABLE');
    rig.fake.failNext({ path: '/subjectaccessreviews', code: 500, times: 20 });
    expect((await get(rig.base, '/api/v1/sessions', dave)).status).toBe(503);
  });
});
