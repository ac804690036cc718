import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { PodIdentity } from '../../../src/protocol/messages.js';
import type { Clock } from '../../../operator/clock.js';
import type { AgentAuthenticator, AuthResult } from '../../../operator/engine/contracts.js';
import type { AgentConnection, AgentReport } from '../../../operator/hub/agent-connection.js';
import { AgentHub, type HubListener } from '../../../operator/hub/agent-hub.js';
import type { ConnectionLimits } from '../../../operator/hub/connection-limits.js';

/**
 * A real HTTP server on loopback with the hub mounted on its upgrade event, plus an authenticator
 * that works like the cluster's: a token is issued for one pod (`token:<namespace>/<name>`), and an
 * agent claiming any other pod with it is a forgery.
 */
export const silentLog = pino({ level: 'silent' });

export function tokenFor(pod: Pick<PodIdentity, 'namespace' | 'name'>): string {
  return `token:${pod.namespace}/${pod.name}`;
}

export const podTokenAuthenticator: AgentAuthenticator = {
  async authenticate(token: string | undefined, claimed: PodIdentity): Promise<AuthResult> {
    const m = token ? /^token:([^/]+)\/(.+)$/.exec(token) : null;
    if (!m) return { ok: false, code: 'SONDE_UNAUTHENTICATED', message: 'unknown token' };
    if (m[1] !== claimed.namespace || m[2] !== claimed.name) {
      return { ok: false, code: 'SONDE_FORGED_IDENTITY', message: `token is for ${m[1]}/${m[2]}, agent claims ${claimed.namespace}/${claimed.name}` };
    }
    return { ok: true, pod: { ...claimed } };
  },
};

/** A listener that records what the hub tells it. */
export class RecordingListener implements HubListener {
  readonly events: { kind: 'connected' | 'report' | 'disconnected'; agent: AgentConnection; message?: AgentReport }[] = [];
  connected(agent: AgentConnection): void {
    this.events.push({ kind: 'connected', agent });
  }
  report(agent: AgentConnection, message: AgentReport): void {
    this.events.push({ kind: 'report', agent, message });
  }
  disconnected(agent: AgentConnection): void {
    this.events.push({ kind: 'disconnected', agent });
  }
  reports(type?: string): AgentReport[] {
    return this.events.filter((e) => e.kind === 'report' && (!type || e.message!.type === type)).map((e) => e.message!);
  }
}

export interface HubServer {
  hub: AgentHub;
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function startHub(
  options: {
    clock?: Clock;
    heartbeatMs?: number;
    helloTimeoutMs?: number;
    authenticator?: AgentAuthenticator;
    listener?: HubListener;
    waitForListener?: boolean;
    limits?: Partial<ConnectionLimits>;
  } = {},
): Promise<HubServer> {
  const hub = new AgentHub({
    ...(options.waitForListener ? { waitForListener: true } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
    authenticator: options.authenticator ?? podTokenAuthenticator,
    log: silentLog,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}),
    ...(options.helloTimeoutMs ? { helloTimeoutMs: options.helloTimeoutMs } : {}),
  });
  if (options.listener) hub.setListener(options.listener);
  const server = createServer((_req, res) => res.writeHead(404).end());
  hub.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    hub,
    server,
    url: `ws://127.0.0.1:${port}/v1/agents`,
    async close() {
      await hub.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Polls until `check` holds (or throws after `timeoutMs`): no fixed sleeps in assertions. */
export async function until(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function pod(name: string, namespace = 'shop'): PodIdentity {
  return { name, namespace, uid: `uid-${name}` };
}
