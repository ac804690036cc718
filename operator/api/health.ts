import type { FastifyInstance } from 'fastify';
import { METRICS_CONTENT_TYPE, countPhases, renderMetrics } from '../metrics.js';
import type { ApiDeps } from './deps.js';
import { listSessions } from './session-lookup.js';

/** `/healthz`, `/readyz`, `/metrics` and `/api/v1/info`. */
export function healthRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    const ready = deps.ready();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready' });
  });

  app.get('/metrics', async (_req, reply) => {
    const c = deps.hub.counters();
    const body = renderMetrics({
      sessionsByPhase: countPhases(listSessions(deps, {})),
      agentsConnected: deps.hub.agentCount?.() ?? deps.hub.agents().length,
      messagesByType: c.messagesByType,
      bytesReceived: c.bytesReceived,
      errorsByCode: c.errorsByCode,
      requestsProfiled: c.requestsProfiled,
      ...(c.pending !== undefined ? { agentsPending: c.pending } : {}),
      ...(deps.storeHealth ? { store: deps.storeHealth() } : {}),
    });
    return reply.type(METRICS_CONTENT_TYPE).send(body);
  });

  app.get('/api/v1/info', async () => ({
    mode: deps.mode,
    version: deps.version,
    ...(deps.namespace ? { namespace: deps.namespace } : {}),
    auth: (deps.access ?? { mode: 'none' }).mode,
  }));

  // Who the caller is and what it may read: the UI says so, and says when a token reaches no namespace.
  app.get('/api/v1/access', async (req) => {
    const a = req.access;
    return { user: a.user, namespaces: a.namespaces === 'all' ? 'all' : [...a.namespaces].sort(), write: a.write, ...(a.expiresAt !== undefined ? { expiresAt: new Date(a.expiresAt).toISOString() } : {}) };
  });
}
