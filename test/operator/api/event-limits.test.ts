import { mkdtempSync, rmSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { HubPort } from '../../../operator/api/deps.js';
import { buildServer } from '../../../operator/api/server.js';
import { Engine } from '../../../operator/engine/engine.js';
import { AgentHub } from '../../../operator/hub/agent-hub.js';
import { HelloLabelDirectory } from '../../../operator/hub/hello-label-directory.js';
import { sharedTokenAuthenticator } from '../../../operator/standalone/shared-token.js';
import { SqliteStore } from '../../../operator/store/sqlite-store.js';
import { FakeAgent } from '../../harness/fake-agent.js';
import { eventually } from './api-harness.js';

let app: FastifyInstance;
let store: SqliteStore;
let hub: AgentHub;
let engine: Engine;
let dir: string;
let base: string;
/** Calls of the hub's agents(), which copies every agent with its catalogue. */
let copies = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sonde-sse-limits-'));
  const log = pino({ level: 'silent' });
  store = new SqliteStore({ file: join(dir, 'sonde.db'), log });
  hub = new AgentHub({ authenticator: sharedTokenAuthenticator(undefined), log });
  engine = new Engine({ hub, store, podDirectory: new HelloLabelDirectory(hub), log, baseURL: 'http://x' });
  const counted: HubPort = {
    agents: () => (copies++, hub.agents()),
    agentCount: () => hub.agentCount(),
    counters: () => hub.counters(),
    handleUpgrade: (req, socket, head) => hub.handleUpgrade(req, socket, head),
  };
  app = buildServer({ reader: store, engine, hub: counted, mode: 'standalone', ready: () => true, log, uiDir: dir, version: '0.0.0', sseHeartbeatMs: 50, maxEventStreams: 2 });
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

function open(path = '/api/v1/events'): Promise<{ res: IncomingMessage; text: () => string; destroy: () => void }> {
  return new Promise((resolve, reject) => {
    const req = request(base + path, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      resolve({ res, text: () => text, destroy: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('event stream limits', () => {
  it('caps open streams: the next gets 503 with the registry code until one closes', async () => {
    const a = await open();
    const b = await open();
    expect([a.res.statusCode, b.res.statusCode]).toEqual([200, 200]);
    const refused = await fetch(`${base}/api/v1/events`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('SONDE_TOO_MANY_CONNECTIONS');
    a.destroy();
    const c = await eventually(async () => {
      const s = await open();
      if (s.res.statusCode === 200) return s;
      s.destroy();
      return undefined;
    }, 5000, 'a free stream slot');
    b.destroy();
    c.destroy();
  });

  it('a repeated namespace parameter is a 400, not a stream', async () => {
    const res = await fetch(`${base}/api/v1/events?namespace=a&namespace=b`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { problems: { field: string }[] } }).error.problems[0]!.field).toBe('querystring.namespace');
  });

  it('counts agents for the stream (and /metrics) without copying them', async () => {
    const s = await eventually(async () => {
      const x = await open();
      if (x.res.statusCode === 200) return x;
      x.destroy();
      return undefined;
    }, 5000, 'a stream');
    copies = 0;
    const agent = await FakeAgent.connect({ url: base.replace('http', 'ws') + '/v1/agents', pod: { name: 'p', namespace: 'n', uid: '' } });
    await eventually(() => (s.text().includes('"count":1') ? true : undefined), 5000, 'count 1 on the stream');
    await fetch(`${base}/metrics`);
    expect(copies).toBe(0);
    agent.kill();
    s.destroy();
  });
});
