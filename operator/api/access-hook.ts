import type { FastifyInstance } from 'fastify';
import { SondeError } from '../../src/errors.js';
import type { Access } from '../auth/access.js';
import type { AccessResolver } from '../auth/access-resolver.js';
import { type HostPolicy, hostAllowed, originAllowed } from '../auth/host-check.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's access, decided once by the onRequest hook; routes filter by it and never ask again. */
    access: Access;
  }
}

/** What a request without credentials may see: nothing (health, info and the UI's files need no Access). */
const NOTHING: Access = Object.freeze({ user: 'anonymous', namespaces: new Set<string>(), write: false });

/**
 * Routes anyone who passed the Host/Origin checks may use: probes, `/api/v1/info` and the UI's static
 * files (which refuse `api/…` paths themselves). Judged by the route the router matched, never by the
 * raw URL: `/%61pi/v1/sessions` routes to `/api/v1/sessions` and must be guarded like it. Every other
 * route needs credentials (fail closed); no route at all is a 404 that shows nothing.
 */
const PUBLIC_ROUTES = new Set(['/healthz', '/readyz', '/api/v1/info', '/', '/*']);

/**
 * The edge of the REST API: every request must name one of our hosts (DNS rebinding) and, if it carries
 * an Origin, come from our own origin (cross-site pages); then, for the API and `/metrics`, the resolver
 * turns its credentials into an Access value (`req.access`) or refuses with 401 (with a
 * `WWW-Authenticate: Bearer` challenge), 403 or 503.
 */
export function installAccessHook(app: FastifyInstance, resolver: AccessResolver, hosts: HostPolicy): void {
  // Fastify wants reference-typed decorations to start null; the hook sets one on every request.
  app.decorateRequest('access', null as unknown as Access);
  app.addHook('onRequest', async (req, reply) => {
    if (!hostAllowed(hosts, req.headers.host)) throw new SondeError('SONDE_FOREIGN_HOST', `${JSON.stringify((req.headers.host ?? '').slice(0, 100))} is not a name of this server (set --public-url to the name you browse to)`);
    const origin = req.headers.origin;
    if (!originAllowed(hosts, origin, req.headers.host)) throw new SondeError('SONDE_CROSS_ORIGIN', `origin ${JSON.stringify(String(origin).slice(0, 100))}`);
    req.access = NOTHING;
    const route = req.routeOptions.url;
    if (route === undefined || PUBLIC_ROUTES.has(route)) return;
    try {
      req.access = await resolver.resolve(req.headers.authorization, route === '/metrics' ? 'metrics' : 'api');
    } catch (err) {
      if (err instanceof SondeError && err.http === 401) void reply.header('www-authenticate', 'Bearer realm="sonde"');
      throw err;
    }
  });
}
