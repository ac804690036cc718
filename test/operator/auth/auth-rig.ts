import { request, type IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../../operator/api/server.js';
import { KubernetesAccess } from '../../../operator/auth/kubernetes-access.js';
import { hostPolicy } from '../../../operator/auth/host-check.js';
import { AccessReviewClient } from '../../../operator/auth/subject-access-review.js';
import { Engine } from '../../../operator/engine/engine.js';
import { AgentHub } from '../../../operator/hub/agent-hub.js';
import { HelloLabelDirectory } from '../../../operator/hub/hello-label-directory.js';
import { TokenReviewClient } from '../../../operator/kube/token-review-client.js';
import { sharedTokenAuthenticator } from '../../../operator/standalone/shared-token.js';
import { SqliteStore } from '../../../operator/store/sqlite-store.js';
import { FakeKubeApiServer, fakeKubeConfig } from '../../fake-kube/index.js';
import { FakeAgent } from '../../harness/fake-agent.js';

export const log = pino({ level: 'silent' });

/**
 * The API as cluster mode serves it with `--auth kubernetes`: a real store, engine and hub behind
 * buildServer on a loopback port, people's tokens reviewed by the fake API server (TokenReview and
 * SubjectAccessReview over real sockets). Agents connect through the hub like real ones.
 */
export interface AuthRig {
  fake: FakeKubeApiServer;
  app: FastifyInstance;
  base: string;
  store: SqliteStore;
  engine: Engine;
  hub: AgentHub;
  tokens: TokenReviewClient;
  reviews: AccessReviewClient;
  agents: FakeAgent[];
  connect(pod: { name: string; namespace: string }, labels: Record<string, string>, catalogue?: { type: string; count: number }[]): Promise<FakeAgent>;
  close(): Promise<void>;
}

export async function startAuthRig(options: { uiDir?: string } = {}): Promise<AuthRig> {
  const dir = mkdtempSync(join(tmpdir(), 'sonde-auth-'));
  const fake = await FakeKubeApiServer.start();
  const kc = fakeKubeConfig(fake);
  const store = new SqliteStore({ file: join(dir, 'sonde.db'), log });
  const hub = new AgentHub({ authenticator: sharedTokenAuthenticator(undefined), log });
  const engine = new Engine({ hub, store, podDirectory: new HelloLabelDirectory(hub), log, baseURL: 'http://sonde.example' });
  const tokens = new TokenReviewClient({ kubeConfig: kc, log });
  const reviews = new AccessReviewClient({ kubeConfig: kc, log });
  const access = new KubernetesAccess({
    tokens,
    reviews,
    knownNamespaces: () => [...store.listSessions({}).map((s) => s.namespace), ...engine.list().map((s) => s.namespace), ...hub.agents().map((a) => a.pod.namespace)],
    log,
  });
  const app = buildServer({ reader: store, engine, hub, mode: 'cluster', ready: () => true, log, uiDir: options.uiDir ?? join(dir, 'no-ui'), version: '1.0.0', access, hosts: hostPolicy({ host: '127.0.0.1' }), sseHeartbeatMs: 200 });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const agents: FakeAgent[] = [];
  return {
    fake,
    app,
    base,
    store,
    engine,
    hub,
    tokens,
    reviews,
    agents,
    async connect(pod, labels, catalogue = []) {
      const agent = await FakeAgent.connect({
        url: `${base.replace('http', 'ws')}/v1/agents`,
        pod: { ...pod, uid: `uid-${pod.name}` },
        labels,
        catalogue: catalogue.map((c) => ({ ...c, errors: 0, p50Ms: 1, p90Ms: 2, p99Ms: 3 })),
      });
      agents.push(agent);
      return agent;
    },
    async close() {
      for (const a of agents) if (a.isOpen) await a.kill();
      await app.close();
      await hub.close();
      engine.close();
      store.close();
      await fake.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A GET with a bearer token (or none), answered as status, headers and parsed JSON (or text). */
export async function get(base: string, path: string, token?: string): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(base + path, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // exports and metrics are not JSON
  }
  return { status: res.status, headers: res.headers, body };
}

/** An open event stream (real socket) and what it received so far. */
export function openStream(url: string, headers: Record<string, string> = {}): Promise<{ res: IncomingMessage; text: () => string; ended: Promise<void>; destroy: () => void }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
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
