import { request as httpRequest } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deserializeTree, type SerializedTree } from '../../../src/model/serialized.js';
import type { SessionView } from '../../../src/session/types.js';
import type { FakeAgent } from '../../harness/fake-agent.js';
import { fakeRequest } from '../../harness/fake-agent.js';
import { eventually, startRig, waitForPhase, type Rig } from './api-harness.js';

const ORDERS = 'GET /api/orders/:id';
const json = { 'content-type': 'application/json' };

let rig: Rig;
let base: string;
let shop0: FakeAgent;
let shop1: FakeAgent;
let session: SessionView;

/** Frame names of a serialized tree. */
function frameNames(tree: SerializedTree): string[] {
  const t = deserializeTree(tree);
  return t.frames.map((f) => f.name);
}

beforeAll(async () => {
  rig = await startRig();
  base = rig.op.url;
  const catalogue = (count: number, p99Ms: number) => [
    { type: ORDERS, count, errors: 1, p50Ms: 10, p90Ms: 20, p99Ms },
    { type: 'GET /api/search', count: 3, errors: 0, p50Ms: 5, p90Ms: 6, p99Ms: 7 },
  ];
  shop0 = await rig.connect({ pod: { name: 'shop-0', namespace: 'default', uid: '' }, labels: { app: 'shop', workload: 'shop' }, catalogue: catalogue(30, 40) });
  shop1 = await rig.connect({ pod: { name: 'shop-1', namespace: 'default', uid: '' }, labels: { app: 'shop', workload: 'shop' }, catalogue: catalogue(10, 90) });
  await rig.connect({ pod: { name: 'other-0', namespace: 'team-b', uid: '' }, labels: { app: 'other' }, catalogue: [] });

  // A session over both shop pods; each pod reports two requests with its own hot function.
  const res = await fetch(`${base}/api/v1/sessions`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ name: 'orders', spec: { selector: { matchLabels: { app: 'shop' } }, request: ORDERS, requests: 4, duration: '1m' } }),
  });
  expect(res.status).toBe(201);
  session = (await res.json()) as SessionView;
  expect(res.headers.get('location')).toBe(`/api/v1/sessions/${session.id}`);
  for (const agent of [shop0, shop1]) await agent.waitFor((m) => m.type === 'start' && m.session === session.id);
  shop0.report(session.id, [fakeRequest(ORDERS, { hot: 'priceOrder', durationMs: 10 }), fakeRequest(ORDERS, { hot: 'priceOrder', durationMs: 12 })]);
  shop1.report(session.id, [fakeRequest(ORDERS, { hot: 'renderInvoice', durationMs: 30 }), fakeRequest(ORDERS, { hot: 'renderInvoice', durationMs: 200 })]);
  session = await waitForPhase(base, session.id, ['Completed']);
});

afterAll(async () => {
  await rig?.close();
});

describe('sessions', () => {
  it('lists, reads by id and by namespace/name, and counts across pods', async () => {
    expect(session.status.requestsProfiled).toBe(4);
    expect(session.status.progress).toBe('4/4');
    expect(session.status.pods.map((p) => [p.name, p.requests]).sort()).toEqual([['shop-0', 2], ['shop-1', 2]]);
    expect(session.status.resultURL).toBe(`${base}/#/sessions/${session.id}`);
    const list = (await (await fetch(`${base}/api/v1/sessions`)).json()) as { items: SessionView[] };
    expect(list.items.map((s) => s.id)).toContain(session.id);
    const byName = (await (await fetch(`${base}/api/v1/sessions/${encodeURIComponent('default/orders')}`)).json()) as SessionView;
    expect(byName.id).toBe(session.id);
    const filtered = (await (await fetch(`${base}/api/v1/sessions?phase=Running`)).json()) as { items: SessionView[] };
    expect(filtered.items.map((s) => s.id)).not.toContain(session.id);
    const otherNs = (await (await fetch(`${base}/api/v1/sessions?namespace=team-b`)).json()) as { items: SessionView[] };
    expect(otherNs.items).toEqual([]);
  });

  it('refuses a bad spec with every problem, a bad body, a duplicate name and an unknown id', async () => {
    const bad = await fetch(`${base}/api/v1/sessions`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'x', spec: { requests: 0, duration: 'soon' } }) });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { error: { code: string; problems: { field: string }[] } };
    expect(body.error.code).toBe('SONDE_INVALID_SPEC');
    expect(body.error.problems.map((p) => p.field).sort()).toEqual(['spec.duration', 'spec.request', 'spec.requests']);

    const badBody = await fetch(`${base}/api/v1/sessions`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'Not A Name', extra: 1 }) });
    expect(badBody.status).toBe(400);
    const bb = (await badBody.json()) as { error: { code: string; problems: { field: string }[] } };
    expect(bb.error.code).toBe('SONDE_INVALID_BODY');
    expect(bb.error.problems.map((p) => p.field).sort()).toEqual(['extra', 'name', 'spec']);

    // A bad body and a bad spec: every problem in one answer, not the body's first and the spec's next.
    const both = await fetch(`${base}/api/v1/sessions`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'Bad Name', spec: { requests: 0, duration: 'soon' } }) });
    expect(both.status).toBe(400);
    const bo = (await both.json()) as { error: { code: string; problems: { field: string }[] } };
    expect(bo.error.code).toBe('SONDE_INVALID_BODY');
    expect(bo.error.problems.map((p) => p.field).sort()).toEqual(['name', 'spec.duration', 'spec.request', 'spec.requests']);

    const dup = await fetch(`${base}/api/v1/sessions`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'orders', spec: { request: ORDERS } }) });
    expect(dup.status).toBe(409);
    expect(((await dup.json()) as { error: { code: string } }).error.code).toBe('SONDE_CONFLICT');

    const missing = await fetch(`${base}/api/v1/sessions/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: { code: 'SONDE_NOT_FOUND', message: 'No such object: no session "nope"' } });
  });

  it('answers malformed JSON, wrong media types, oversized bodies and unknown routes in the one error shape', async () => {
    const cases: [RequestInit & { path?: string }, number, string][] = [
      [{ method: 'POST', headers: json, body: '{"name": ' }, 400, 'SONDE_INVALID_BODY'],
      [{ method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' }, 415, 'SONDE_UNSUPPORTED_MEDIA_TYPE'],
      [{ method: 'POST', headers: json, body: JSON.stringify({ name: 'big', spec: { request: 'x'.repeat(2 * 1024 * 1024) } }) }, 413, 'SONDE_BODY_TOO_LARGE'],
      [{ method: 'GET', path: '/api/v1/unknown' }, 404, 'SONDE_NOT_FOUND'],
      [{ method: 'PUT', path: '/api/v1/sessions' }, 404, 'SONDE_NOT_FOUND'],
      [{ method: 'GET', path: '/api/v1/sessions?phase=Sleeping' }, 400, 'SONDE_INVALID_QUERY'],
    ];
    for (const [init, status, code] of cases) {
      const res = await fetch(`${base}${init.path ?? '/api/v1/sessions'}`, init);
      expect({ status: res.status, code: ((await res.json()) as { error: { code: string } }).error.code }).toEqual({ status, code });
    }
  });

  it('the same through inject(), without a socket', async () => {
    const res = await rig.op.app.inject({ method: 'GET', url: `/api/v1/sessions/${session.id}` });
    expect(res.statusCode).toBe(200);
    expect(res.json<SessionView>().id).toBe(session.id);
    const bad = await rig.op.app.inject({ method: 'POST', url: '/api/v1/sessions', payload: { name: 'y', spec: 'nope' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'SONDE_INVALID_SPEC', problems: [{ field: 'spec', message: 'spec must be an object' }] } });
  });
});

describe('trees and exports', () => {
  it('merges every pod, or one pod, with the request count', async () => {
    const all = (await (await fetch(`${base}/api/v1/sessions/${session.id}/tree`)).json()) as { session: string; tree: SerializedTree; requests: number; filters: object };
    expect(all.session).toBe(session.id);
    expect(all.requests).toBe(4);
    expect(frameNames(all.tree)).toEqual(expect.arrayContaining(['priceOrder', 'renderInvoice']));
    const one = (await (await fetch(`${base}/api/v1/sessions/${session.id}/tree?pod=shop-0`)).json()) as { tree: SerializedTree; requests: number; filters: object };
    expect(one.requests).toBe(2);
    expect(one.filters).toEqual({ pod: 'shop-0' });
    expect(frameNames(one.tree)).toContain('priceOrder');
    expect(frameNames(one.tree)).not.toContain('renderInvoice');
  });

  it('splits slow from typical requests', async () => {
    const slow = (await (await fetch(`${base}/api/v1/sessions/${session.id}/tree?split=slow`)).json()) as { tree: SerializedTree; requests: number };
    expect(slow.requests).toBe(1);
    expect(frameNames(slow.tree)).toEqual(expect.arrayContaining(['renderInvoice']));
    expect(frameNames(slow.tree)).not.toContain('priceOrder');
    const typical = (await (await fetch(`${base}/api/v1/sessions/${session.id}/tree?split=typical`)).json()) as { tree: SerializedTree; requests: number };
    expect(typical.requests).toBe(2);
    expect(frameNames(typical.tree)).toContain('priceOrder');
    const bad = await fetch(`${base}/api/v1/sessions/${session.id}/tree?split=medium`);
    expect(bad.status).toBe(400);
  });

  it('exports pprof (gzipped protobuf), collapsed, speedscope, cpuprofile and d3 as named downloads', async () => {
    const get = async (format: string) => {
      const res = await fetch(`${base}/api/v1/sessions/${encodeURIComponent('default/orders')}/tree?format=${format}`);
      expect(res.status).toBe(200);
      return { res, bytes: Buffer.from(await res.arrayBuffer()) };
    };
    const pprof = await get('pprof');
    expect(pprof.res.headers.get('content-disposition')).toBe('attachment; filename="sonde-default-orders.pb.gz"');
    const profile = Profile.decode(gunzipSync(pprof.bytes));
    const names = profile.function.map((f) => profile.stringTable.strings[Number(f.name)]);
    expect(names).toEqual(expect.arrayContaining(['priceOrder', 'renderInvoice']));

    const collapsed = (await get('collapsed')).bytes.toString('utf8').trim().split('\n');
    for (const line of collapsed) expect(line).toMatch(/^[^ ].* \d+(\.\d+)?$/);
    expect(collapsed.some((l) => /;priceOrder \d/.test(l))).toBe(true);

    const speedscope = JSON.parse((await get('speedscope')).bytes.toString('utf8')) as { $schema: string; shared: { frames: { name: string }[] }; profiles: unknown[] };
    expect(speedscope.$schema).toBe('https://www.speedscope.app/file-format-schema.json');
    expect(speedscope.shared.frames.map((f) => f.name)).toContain('renderInvoice');
    expect(speedscope.profiles.length).toBeGreaterThan(0);

    const cpu = await get('cpuprofile');
    expect(cpu.res.headers.get('content-disposition')).toMatch(/filename="sonde-default-orders\.cpuprofile"/);
    const cpuprofile = JSON.parse(cpu.bytes.toString('utf8')) as { nodes: { callFrame: { functionName: string } }[]; samples: number[]; timeDeltas: number[] };
    expect(cpuprofile.nodes.map((n) => n.callFrame.functionName)).toContain('priceOrder');
    expect(cpuprofile.samples.length).toBe(cpuprofile.timeDeltas.length);

    const d3 = JSON.parse((await get('d3')).bytes.toString('utf8')) as { name: string; value: number; children: unknown[] };
    expect(d3.children.length).toBeGreaterThan(0);
    expect(d3.value).toBeGreaterThan(0);

    const unknown = await fetch(`${base}/api/v1/sessions/${session.id}/tree?format=svg`);
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('SONDE_UNSUPPORTED_FORMAT');
  });

  it('lists requests without trees, and hotspots across sessions', async () => {
    const reqs = (await (await fetch(`${base}/api/v1/sessions/${session.id}/requests?pod=shop-1`)).json()) as { items: { pod: string; durationMs: number; tree?: unknown }[] };
    expect(reqs.items.map((r) => r.durationMs).sort((a, b) => a - b)).toEqual([30, 200]);
    expect(reqs.items.every((r) => r.pod === 'shop-1' && r.tree === undefined)).toBe(true);
    const hot = (await (await fetch(`${base}/api/v1/hotspots?limit=5`)).json()) as { items: { frame: { name: string }; selfPercent: number; groups: { workload: string; sessions: string[] }[] }[]; totalUs: number };
    expect(hot.totalUs).toBeGreaterThan(0);
    const names = hot.items.map((i) => i.frame.name);
    expect(names).toEqual(expect.arrayContaining(['priceOrder', 'renderInvoice']));
    const price = hot.items.find((i) => i.frame.name === 'priceOrder')!;
    expect(price.groups[0]).toMatchObject({ workload: 'shop', sessions: [session.id] });
    expect((await fetch(`${base}/api/v1/hotspots?limit=0`)).status).toBe(400);
    expect((await fetch(`${base}/api/v1/hotspots?by=median`)).status).toBe(400);
  });
});

describe('agents and catalogue', () => {
  it('lists connected agents without their catalogues, filterable by namespace', async () => {
    const all = (await (await fetch(`${base}/api/v1/agents`)).json()) as { items: { pod: { name: string }; catalogue?: unknown; labels: object }[] };
    expect(all.items.map((a) => a.pod.name).sort()).toEqual(['other-0', 'shop-0', 'shop-1']);
    expect(all.items.every((a) => a.catalogue === undefined)).toBe(true);
    const teamB = (await (await fetch(`${base}/api/v1/agents?namespace=team-b`)).json()) as { items: unknown[] };
    expect(teamB.items).toHaveLength(1);
  });

  it('merges request types across agents', async () => {
    const types = (await (await fetch(`${base}/api/v1/request-types`)).json()) as { items: { type: string; count: number; pods: number; p99Ms: number; workloads: string[] }[] };
    expect(types.items[0]).toMatchObject({ type: ORDERS, count: 40, pods: 2, p99Ms: 90, workloads: ['shop'] });
  });
});

describe('health, info, metrics', () => {
  it('answers /healthz, /readyz and /api/v1/info', async () => {
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${base}/api/v1/info`)).json()).toEqual({ mode: 'standalone', version: expect.stringMatching(/^\d+\.\d+\.\d+/), auth: 'none' });
  });

  it('exposes Prometheus text with sessions, agents, messages, bytes and requests', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    // Every line is a comment or `name{labels} number`.
    for (const line of text.trim().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{\w+="[^"]*"\})? \d+(\.\d+)?)$/);
    expect(text).toMatch(/^sonde_sessions\{phase="Completed"\} [1-9]/m);
    expect(text).toMatch(/^sonde_agents_connected 3$/m);
    expect(text).toMatch(/^sonde_agent_messages_total\{type="requests"\} 2$/m);
    expect(text).toMatch(/^sonde_agent_messages_total\{type="hello"\} 3$/m);
    expect(text).toMatch(/^sonde_agent_bytes_total [1-9]\d*$/m);
    expect(text).toMatch(/^sonde_requests_profiled_total 4$/m);
  });
});

describe('server-sent events', () => {
  it('sends the agent count on connect and a session event on a status change', async () => {
    const events: { event: string; data: unknown }[] = [];
    const req = httpRequest(`${base}/api/v1/events`);
    const opened = new Promise<void>((resolve, reject) => {
      req.on('response', (res) => {
        expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let cut;
          while ((cut = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event && data) events.push({ event, data: JSON.parse(data) });
          }
        });
        resolve();
      });
      req.on('error', reject);
    });
    req.end();
    await opened;
    await eventually(() => events.find((e) => e.event === 'agents'), 5000, 'agents event');
    expect(events.find((e) => e.event === 'agents')!.data).toEqual({ count: 3 });

    const created = await fetch(`${base}/api/v1/sessions`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'sse', namespace: 'team-b', spec: { selector: { matchLabels: { app: 'other' } }, request: 'GET /x', requests: 1 } }) });
    const view = (await created.json()) as SessionView;
    const seen = await eventually(() => events.find((e) => e.event === 'session' && (e.data as SessionView).id === view.id), 5000, 'session event');
    expect((seen.data as SessionView).name).toBe('sse');

    // A third agent leaving changes the count.
    const other = rig.agents.find((a) => a.options.pod.name === 'other-0')!;
    await other.close();
    await eventually(() => events.find((e) => e.event === 'agents' && (e.data as { count: number }).count === 2), 5000, 'agents count 2');
    req.destroy();
  });
});

describe('delete and purge', () => {
  it('deletes a session (results kept), then purges it', async () => {
    const created = (await (await fetch(`${base}/api/v1/sessions`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'doomed', spec: { selector: { matchLabels: { app: 'shop' } }, request: ORDERS, requests: 100 } }) })).json()) as SessionView;
    await shop0.waitFor((m) => m.type === 'start' && m.session === created.id);
    shop0.report(created.id, [fakeRequest(ORDERS, { hot: 'priceOrder' })]);
    await eventually(async () => ((await (await fetch(`${base}/api/v1/sessions/${created.id}`)).json()) as SessionView).status.requestsProfiled === 1 || undefined);
    const del = await fetch(`${base}/api/v1/sessions/${created.id}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    const deleted = (await del.json()) as SessionView;
    expect(deleted.status.phase).toBe('Completed');
    expect(deleted.status.conditions.some((c) => c.reason === 'Deleted')).toBe(true);
    await shop0.waitFor((m) => m.type === 'stop' && m.session === created.id);
    // Results stay until purged.
    const kept = (await (await fetch(`${base}/api/v1/sessions/${created.id}/requests`)).json()) as { items: unknown[] };
    expect(kept.items).toHaveLength(1);
    expect((await fetch(`${base}/api/v1/sessions/${created.id}?purge=true`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${base}/api/v1/sessions/${created.id}`)).status).toBe(404);
    // The name is free again.
    const again = await fetch(`${base}/api/v1/sessions`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'doomed', spec: { request: 'GET /y', requests: 1 } }) });
    expect(again.status).toBe(201);
  });
});

describe('the UI and upgrades', () => {
  it('serves the built UI with an ETag and 304s, and never a file outside it', async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(await page.text()).toContain('<title>Sonde</title>');
    const etag = page.headers.get('etag')!;
    expect((await fetch(`${base}/`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    const js = await fetch(`${base}/app.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    for (const path of ['/..%2f..%2fetc%2fpasswd', '/%2e%2e/data/sonde.db', '/missing.js']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('SONDE_NOT_FOUND');
    }
  });

  it('refuses WebSocket upgrades on any path but the agents\'', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${base}/api/v1/events`, { headers: { connection: 'upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
      req.on('response', (res) => resolve(res.statusCode ?? 0));
      req.on('upgrade', () => reject(new Error('upgraded')));
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(404);
  });
});
