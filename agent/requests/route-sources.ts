import diagnostics from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';

/** Where the route template found for a raw request is kept until the request ends. */
export const ROUTE = Symbol('sonde.route');

type WithRoute = IncomingMessage & { [ROUTE]?: string };

/** Fastify publishes this when a route handler starts, with the matched route's template. */
const FASTIFY_HANDLER_START = 'tracing:fastify.request.handler:start';

interface FastifyHandlerMessage {
  request?: { raw?: WithRoute };
  route?: { url?: string };
}

function onFastifyHandler(message: unknown): void {
  const m = message as FastifyHandlerMessage;
  const raw = m.request?.raw;
  const url = m.route?.url;
  if (raw && typeof url === 'string') raw[ROUTE] = url;
}

/**
 * Listens for the route templates frameworks announce, without the app registering anything: fastify
 * through its diagnostics channel. Returns the unsubscribe function.
 */
export function watchFrameworkRoutes(): () => void {
  diagnostics.subscribe(FASTIFY_HANDLER_START, onFastifyHandler);
  return () => diagnostics.unsubscribe(FASTIFY_HANDLER_START, onFastifyHandler);
}

interface ExpressRequest {
  route?: { path?: unknown };
  baseUrl?: unknown;
}

/**
 * The route template of a finished request, if a framework named one: fastify's (recorded at handler
 * start) or express's `req.route.path` under its router's `baseUrl` (known only once routed, so read
 * at the end).
 */
export function routeOf(req: IncomingMessage): string | undefined {
  const fromChannel = (req as WithRoute)[ROUTE];
  if (fromChannel !== undefined) return fromChannel;
  const ex = req as unknown as ExpressRequest;
  const path = ex.route?.path;
  if (path === undefined || path === null) return undefined;
  const base = typeof ex.baseUrl === 'string' ? ex.baseUrl : '';
  const p = String(path);
  return base !== '' && p === '/' ? base : base + p;
}
