import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { SondeError } from '../../src/errors.js';
import type { SessionView } from '../../src/session/types.js';
import { type Access, canRead } from '../auth/access.js';
import { systemClock } from '../clock.js';
import type { ApiDeps } from './deps.js';
import { EVENTS_QUERY } from './query-schemas.js';

interface Client {
  res: ServerResponse;
  namespace?: string;
  /** What this client may see, decided when it connected; the stream ends when its credential expires. */
  access: Access;
  /** The last agent count sent (of the agents it may see). */
  agents: number;
  cancelExpiry?: () => void;
}

/** Agent counts of one poll, computed at most once each and only if a client needs them. */
interface Tally {
  total?: number;
  byNamespace?: Map<string, number>;
}

/** A client this far behind is dropped rather than buffered without bound; it reconnects (`retry`). */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const AGENT_POLL_MS = 1000;
/** Each stream holds a socket and up to MAX_BUFFERED_BYTES; past this many, a new one waits its turn (503). */
const DEFAULT_MAX_STREAMS = 256;

/**
 * `GET /api/v1/events`: server-sent events. `event: session` carries a SessionView on every status
 * change the engine reports; `event: agents` carries `{count}` when the number of connected agents
 * changes (and once on connect); a comment line every 15 s keeps proxies from closing the stream.
 * One engine subscription and one timer serve every client; a closed client is forgotten at once.
 */
export function eventRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const clients = new Set<Client>();
  const log = deps.log;
  const maxStreams = deps.maxEventStreams ?? DEFAULT_MAX_STREAMS;
  const clock = deps.clock ?? systemClock;
  // Polled every second: a count, not agents(), which copies every agent's catalogue.
  const countAgents = (): number => deps.hub.agentCount?.() ?? deps.hub.agents().length;
  const countByNamespace = (): Map<string, number> => {
    const out = new Map<string, number>();
    for (const a of deps.hub.agents()) out.set(a.pod.namespace, (out.get(a.pod.namespace) ?? 0) + 1);
    return out;
  };
  /** The agents a client may see (and, if it asked for one, in its namespace): the plain count when it sees all. */
  const visibleAgents = (c: Client, tally: Tally): number => {
    if (c.access.namespaces === 'all' && !c.namespace) return (tally.total ??= countAgents());
    const byNs = (tally.byNamespace ??= countByNamespace());
    if (c.namespace) return canRead(c.access, c.namespace) ? (byNs.get(c.namespace) ?? 0) : 0;
    let n = 0;
    for (const [ns, k] of byNs) if (canRead(c.access, ns)) n += k;
    return n;
  };

  const send = (client: Client, event: string, data: unknown): void => {
    const res = client.res;
    if (res.destroyed || res.writableEnded) return void clients.delete(client);
    if (res.writableLength > MAX_BUFFERED_BYTES) {
      log.warn({ buffered: res.writableLength }, 'dropping a slow event-stream client');
      clients.delete(client);
      res.destroy();
      return;
    }
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };

  const unsubscribe = deps.engine.onStatus((view: SessionView) => {
    for (const c of clients) if ((!c.namespace || c.namespace === view.namespace) && canRead(c.access, view.namespace)) send(c, 'session', view);
  });

  const agentTimer = setInterval(() => {
    if (clients.size === 0) return;
    const tally: Tally = {};
    for (const c of clients) {
      const count = visibleAgents(c, tally);
      if (count === c.agents) continue;
      c.agents = count;
      send(c, 'agents', { count });
    }
  }, AGENT_POLL_MS);
  agentTimer.unref();

  const heartbeat = setInterval(() => {
    for (const c of clients) if (!c.res.destroyed) c.res.write(': keep-alive\n\n');
  }, deps.sseHeartbeatMs ?? 15_000);
  heartbeat.unref();

  // Before the server stops accepting: end every stream, or close() would wait for them forever.
  app.addHook('preClose', (done) => {
    unsubscribe();
    clearInterval(agentTimer);
    clearInterval(heartbeat);
    for (const c of clients) c.res.end();
    clients.clear();
    done();
  });

  app.get<{ Querystring: { namespace?: string } }>('/api/v1/events', { schema: { querystring: EVENTS_QUERY } }, (req, reply) => {
    if (clients.size >= maxStreams) {
      log.warn({ streams: clients.size }, 'refusing an event stream: too many open');
      void reply.header('retry-after', '5');
      throw new SondeError('SONDE_TOO_MANY_CONNECTIONS', `at most ${maxStreams} event streams`);
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 3000\n\n');
    const client: Client = { res, access: req.access, agents: 0 };
    if (req.query.namespace) client.namespace = req.query.namespace;
    clients.add(client);
    client.agents = visibleAgents(client, {});
    send(client, 'agents', { count: client.agents });
    // A stream lives no longer than the token that opened it, nor than `sseMaxMs`: the client
    // reconnects (`retry`), and its access is decided again, so a revoked Role takes effect.
    const endAt = Math.min(req.access.expiresAt ?? Infinity, clock.now() + (deps.sseMaxMs ?? 10 * 60_000));
    client.cancelExpiry = clock.schedule(endAt - clock.now(), () => res.end());
    const forget = (): void => {
      client.cancelExpiry?.();
      clients.delete(client);
    };
    req.raw.on('close', forget);
    res.on('close', forget);
    res.on('error', forget);
  });
}
