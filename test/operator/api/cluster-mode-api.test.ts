import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../../operator/api/server.js';
import { Engine } from '../../../operator/engine/engine.js';
import { AgentHub } from '../../../operator/hub/agent-hub.js';
import { HelloLabelDirectory } from '../../../operator/hub/hello-label-directory.js';
import { sharedTokenAuthenticator } from '../../../operator/standalone/shared-token.js';
import { SqliteStore } from '../../../operator/store/sqlite-store.js';
import type { FastifyInstance } from 'fastify';

/** The API as cluster mode builds it (real store, engine and hub): sessions are CRs, so writes are refused. */
let app: FastifyInstance;
let store: SqliteStore;
let hub: AgentHub;
let engine: Engine;
let dir: string;
let ready = false;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sonde-cluster-api-'));
  const log = pino({ level: 'silent' });
  store = new SqliteStore({ file: join(dir, 'sonde.db'), log });
  hub = new AgentHub({ authenticator: sharedTokenAuthenticator(undefined), log });
  engine = new Engine({ hub, store, podDirectory: new HelloLabelDirectory(hub), log, baseURL: 'http://sonde.example' });
  engine.apply({ id: 'uid-1', name: 'orders', namespace: 'shop', source: 'kubernetes', createdAt: new Date().toISOString(), generation: 3, spec: { request: 'GET /api/orders/:id' } });
  app = buildServer({ reader: store, engine, hub, mode: 'cluster', ready: () => ready, log, uiDir: join(dir, 'no-ui'), version: '9.9.9', namespace: 'shop' });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await hub?.close();
  engine?.close();
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the API in cluster mode', () => {
  it('refuses POST and DELETE of sessions with SONDE_NOT_STANDALONE', async () => {
    const post = await app.inject({ method: 'POST', url: '/api/v1/sessions', payload: { name: 'x', spec: { request: 'GET /' } } });
    expect(post.statusCode).toBe(405);
    expect(post.json()).toMatchObject({ error: { code: 'SONDE_NOT_STANDALONE' } });
    const del = await app.inject({ method: 'DELETE', url: '/api/v1/sessions/uid-1' });
    expect(del.statusCode).toBe(405);
    expect(del.json<{ error: { message: string } }>().error.message).toMatch(/kubectl delete profilingsession/);
  });

  it('shows CR sessions in the same shape, by uid or namespace/name', async () => {
    const one = await app.inject({ url: '/api/v1/sessions/shop%2Forders' });
    expect(one.statusCode).toBe(200);
    expect(one.json()).toMatchObject({ id: 'uid-1', source: 'kubernetes', generation: 3, spec: { request: 'GET /api/orders/:id', requests: 100, duration: '5m', sampleInterval: '10ms' } });
  });

  it('reports its mode and namespace, and readiness as told', async () => {
    expect((await app.inject({ url: '/api/v1/info' })).json()).toEqual({ mode: 'cluster', version: '9.9.9', namespace: 'shop', auth: 'none' });
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(503);
    ready = true;
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200);
  });

  it('says how to build the UI when it is missing', async () => {
    const page = await app.inject({ url: '/' });
    expect(page.statusCode).toBe(503);
    expect(page.body).toContain('npm run build');
  });
});
