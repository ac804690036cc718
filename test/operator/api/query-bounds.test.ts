import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../../operator/api/server.js';
import { Engine } from '../../../operator/engine/engine.js';
import { AgentHub } from '../../../operator/hub/agent-hub.js';
import { HelloLabelDirectory } from '../../../operator/hub/hello-label-directory.js';
import { sharedTokenAuthenticator } from '../../../operator/standalone/shared-token.js';
import { SqliteStore } from '../../../operator/store/sqlite-store.js';
import { fakeRequest } from '../../harness/fake-agent.js';
import { sessionView } from '../store/store-fixtures.js';

/**
 * Query strings are outside input: each parameter has a schema (a repeated one is a 400 naming it,
 * never a 500), and no spelling of a query can grow the operator's memory without bound.
 */
let app: FastifyInstance;
let store: SqliteStore;
let hub: AgentHub;
let engine: Engine;
let dir: string;
let base: string;
const REQUESTS = 600;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sonde-query-'));
  const log = pino({ level: 'silent' });
  store = new SqliteStore({ file: join(dir, 'sonde.db'), log, retention: { intervalMs: 0 } });
  store.saveSession(sessionView('s1', { phase: 'Completed', completedAt: '2026-01-01T00:01:00.000Z' }));
  const records = Array.from({ length: REQUESTS }, (_, i) => fakeRequest('GET /a', { id: `r${i}`, durationMs: 1 + (i % 50), hot: `hot${i % 7}` }));
  for (let i = 0; i < REQUESTS; i += 100) store.addRequests('s1', { pod: `web-${i % 3}`, workload: 'web', pid: 1 }, records.slice(i, i + 100));
  hub = new AgentHub({ authenticator: sharedTokenAuthenticator(undefined), log });
  engine = new Engine({ hub, store, podDirectory: new HelloLabelDirectory(hub), log, baseURL: 'http://x' });
  app = buildServer({ reader: store, engine, hub, mode: 'standalone', ready: () => true, log, uiDir: dir, version: '0.0.0' });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(async () => {
  await app?.close();
  await hub?.close();
  engine?.close();
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function status(path: string): Promise<{ status: number; body: { error?: { code: string; problems?: { field: string }[] } } }> {
  const res = await fetch(base + path);
  const text = await res.text();
  return { status: res.status, body: res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : {} };
}

describe('query parameters', () => {
  it('a repeated parameter is a 400 naming it, on every tree, request and hotspot route', async () => {
    const cases: [string, string][] = [
      ['/api/v1/sessions/s1/tree?pod=web-0&pod=web-1', 'querystring.pod'],
      ['/api/v1/sessions/s1/tree?request=r1&request=r2', 'querystring.request'],
      ['/api/v1/sessions/s1/tree?split=slow&split=typical', 'querystring.split'],
      ['/api/v1/sessions/s1/tree?format=json&format=pprof', 'querystring.format'],
      ['/api/v1/sessions/s1/tree?format=collapsed&weight=samples&weight=cpuUs', 'querystring.weight'],
      ['/api/v1/sessions/s1/requests?pod=a&pod=b', 'querystring.pod'],
      ['/api/v1/hotspots?namespace=a&namespace=b', 'querystring.namespace'],
      ['/api/v1/hotspots?workload=a&workload=b', 'querystring.workload'],
      ['/api/v1/hotspots?limit=1&limit=2', 'querystring.limit'],
    ];
    for (const [path, field] of cases) {
      const r = await status(path);
      expect({ path, status: r.status, code: r.body.error?.code }).toEqual({ path, status: 400, code: 'SONDE_INVALID_QUERY' });
      expect(r.body.error!.problems![0]!.field).toBe(field);
    }
  });

  it('every bad parameter at once, under the query code (a GET has no body)', async () => {
    const r = await status(`/api/v1/hotspots?namespace=a&namespace=b&workload=${'w'.repeat(300)}`);
    expect(r.status).toBe(400);
    expect(r.body.error!.code).toBe('SONDE_INVALID_QUERY');
    expect(r.body.error!.problems!.map((p) => p.field).sort()).toEqual(['querystring.namespace', 'querystring.workload']);
    const bad = await status('/api/v1/hotspots?limit=0');
    expect({ status: bad.status, code: bad.body.error?.code }).toEqual({ status: 400, code: 'SONDE_INVALID_QUERY' });
  });

  it('an oversized parameter is a 400, and a single one still works', async () => {
    expect((await status(`/api/v1/sessions/s1/tree?pod=${'p'.repeat(300)}`)).status).toBe(400);
    const ok = await fetch(`${base}/api/v1/sessions/s1/tree?pod=web-0`);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { requests: number }).requests).toBe(REQUESTS / 3);
  });

  it('a thousand distinct request ids (and a thousand unknown ones) leave a bounded tree cache', async () => {
    for (let i = 0; i < REQUESTS; i++) {
      const res = await fetch(`${base}/api/v1/sessions/s1/tree?request=r${i}`);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    for (let i = 0; i < 400; i++) await (await fetch(`${base}/api/v1/sessions/s1/tree?request=unknown-${i}`)).arrayBuffer();
    const stats = store.cacheStats();
    expect(stats.entries).toBeLessThanOrEqual(256);
    const one = (await (await fetch(`${base}/api/v1/sessions/s1/tree?request=r5`)).json()) as { requests: number };
    expect(one.requests).toBe(1);
  });
});
