import { mkdtempSync, rmSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
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
import { eventually } from './api-harness.js';

let app: FastifyInstance;
let store: SqliteStore;
let hub: AgentHub;
let engine: Engine;
let dir: string;
let base: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sonde-sse-'));
  const log = pino({ level: 'silent' });
  store = new SqliteStore({ file: join(dir, 'sonde.db'), log });
  hub = new AgentHub({ authenticator: sharedTokenAuthenticator(undefined), log });
  engine = new Engine({ hub, store, podDirectory: new HelloLabelDirectory(hub), log, baseURL: 'http://x' });
  app = buildServer({ reader: store, engine, hub, mode: 'standalone', ready: () => true, log, uiDir: dir, version: '0.0.0', sseHeartbeatMs: 50 });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(async () => {
  await hub?.close();
  engine?.close();
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** An open event stream and everything it received, raw. */
function open(path = '/api/v1/events'): Promise<{ res: IncomingMessage; text: () => string; ended: Promise<void>; destroy: () => void }> {
  return new Promise((resolve, reject) => {
    const req = request(base + path, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      const ended = new Promise<void>((r) => {
        res.on('end', () => r());
        res.on('close', () => r());
      });
      resolve({ res, text: () => text, ended, destroy: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the event stream', () => {
  it('keeps the stream alive with comments, filters by namespace, forgets closed clients, and ends streams on close', async () => {
    const all = await open();
    const teamA = await open('/api/v1/events?namespace=team-a');
    const gone = await open();
    await eventually(() => (all.text().includes(': keep-alive\n\n') ? true : undefined), 5000, 'a keep-alive comment');
    expect(all.text().startsWith('retry: 3000\n\nevent: agents\ndata: {"count":0}\n\n')).toBe(true);
    gone.destroy();

    engine.apply({ id: 's-b', name: 'b', namespace: 'team-b', source: 'api', createdAt: new Date().toISOString(), generation: 1, spec: { request: 'GET /b' } });
    engine.apply({ id: 's-a', name: 'a', namespace: 'team-a', source: 'api', createdAt: new Date().toISOString(), generation: 1, spec: { request: 'GET /a' } });
    await eventually(() => (all.text().includes('"id":"s-a"') && teamA.text().includes('"id":"s-a"') ? true : undefined), 5000, 'session events');
    expect(all.text()).toContain('"id":"s-b"');
    expect(teamA.text()).not.toContain('"id":"s-b"');

    // close() must not wait for open streams: the preClose hook ends them.
    const t0 = Date.now();
    await app.close();
    await Promise.all([all.ended, teamA.ended]);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
