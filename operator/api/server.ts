import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Duplex } from 'node:stream';
import { AGENT_PATH } from '../../src/protocol/messages.js';
import { noAuth } from '../auth/access-resolver.js';
import { hostAllowed, hostPolicy } from '../auth/host-check.js';
import { installAccessHook } from './access-hook.js';
import { catalogueRoutes } from './catalogue.js';
import type { ApiDeps } from './deps.js';
import { installErrorHandlers } from './errors.js';
import { eventRoutes } from './events.js';
import { healthRoutes } from './health.js';
import { sessionRoutes } from './sessions.js';
import { staticUiRoutes } from './static-ui.js';
import { treeRoutes } from './trees.js';

/**
 * Builds the operator's HTTP server — REST API, UI, health, metrics, and the agents' WebSocket upgrade —
 * without listening (fastify's Testing guide): tests call `inject()` or `listen({port: 0})`, and only
 * `main` listens for real.
 */
export function buildServer(deps: ApiDeps): FastifyInstance {
  // With TLS the instance wraps an https.Server; routes and hooks are the same, so one type serves both.
  const app = Fastify({
    ...(deps.https ? { https: { cert: deps.https.cert, key: deps.https.key, minVersion: 'TLSv1.2' as const } } : {}),
    // pino's Logger and fastify's logger type disagree on generics only; the instance is the same.
    loggerInstance: deps.log.child({ module: 'api' }) as FastifyBaseLogger,
    // One line per request would drown the operator's own logs; errors are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimitBytes ?? 1024 * 1024,
    // SSE streams stay open: close idle keep-alive sockets on shutdown, the preClose hook ends streams.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // Every problem of a query string at once, not the first one per round trip.
    ajv: { customOptions: { allErrors: true } },
  });
  installErrorHandlers(app, deps.log.child({ module: 'api' }));
  // JSON only: a text/plain body gets 415 rather than being parsed as a string.
  app.removeContentTypeParser('text/plain');

  const hosts = deps.hosts ?? hostPolicy({});
  installAccessHook(app, deps.access ?? noAuth(deps.mode === 'standalone'), hosts);

  // Agents dial the same port: hand their upgrades to the hub, refuse every other upgrade. Agents send
  // no Origin; a browser always does, so any Origin here is a web page trying to pose as an agent.
  app.server.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== AGENT_PATH || deps.agents === false) return refuse(socket, 404, 'Not Found');
    if (!hostAllowed(hosts, req.headers.host)) return refuse(socket, 421, 'Misdirected Request');
    if (req.headers.origin !== undefined) return refuse(socket, 403, 'Forbidden');
    return deps.hub.handleUpgrade(req, socket, head);
  });

  sessionRoutes(app, deps);
  treeRoutes(app, deps);
  catalogueRoutes(app, deps);
  eventRoutes(app, deps);
  healthRoutes(app, deps);
  staticUiRoutes(app, deps);
  return app;
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.on('error', () => {});
  socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}
