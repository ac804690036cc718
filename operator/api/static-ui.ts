import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiDeps } from './deps.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** A name with a content hash (`app.3f9a1c2b.js`) never changes content: cache it for a year. */
const HASHED = /\.[0-9a-f]{8,}\./i;

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Sonde</title>
<p>The Sonde UI is not built yet. Run <code>npm run build</code>, then reload. The REST API is at <a href="/api/v1/sessions">/api/v1/sessions</a>.</p>\n`;

interface Cached {
  mtimeMs: number;
  size: number;
  body: Buffer;
  etag: string;
}

/**
 * Serves the built UI (dist/ui) at `/`. Small enough to hold in memory; each file is re-read when its
 * mtime or size changes, so a rebuild shows on reload. Every response carries an ETag, and a matching
 * If-None-Match gets 304; unhashed names are `no-cache` (revalidated on each load, so index.html and
 * app.js never disagree after an upgrade), hashed ones immutable.
 */
export function staticUiRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const root = resolve(deps.uiDir);
  const cache = new Map<string, Cached>();

  const load = async (path: string): Promise<Cached | undefined> => {
    let st;
    try {
      st = await stat(path);
    } catch {
      return undefined;
    }
    if (!st.isFile()) return undefined;
    const hit = cache.get(path);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit;
    const body = await readFile(path);
    const entry = { mtimeMs: st.mtimeMs, size: st.size, body, etag: `W/"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"` };
    cache.set(path, entry);
    return entry;
  };

  const serve = async (req: FastifyRequest, reply: FastifyReply, relative: string): Promise<FastifyReply> => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(relative);
    } catch {
      return notFound(reply);
    }
    const path = resolve(join(root, decoded));
    if (decoded.includes('\0') || (path !== root && !path.startsWith(root + sep))) return notFound(reply);
    const file = await load(path === root ? join(root, 'index.html') : path);
    if (!file) {
      if (relative === 'index.html' || relative === '') return reply.code(503).type('text/html; charset=utf-8').send(NOT_BUILT);
      return notFound(reply);
    }
    const name = path === root ? 'index.html' : decoded;
    void reply
      .header('etag', file.etag)
      .header('cache-control', HASHED.test(name) ? 'public, max-age=31536000, immutable' : 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .type(TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream');
    if (req.headers['if-none-match'] === file.etag) return reply.code(304).send();
    return reply.send(file.body);
  };

  const notFound = (reply: FastifyReply): FastifyReply => {
    reply.callNotFound();
    return reply;
  };

  app.get('/', (req, reply) => serve(req, reply, 'index.html'));
  app.get<{ Params: { '*': string } }>('/*', (req, reply) => {
    const rest = req.params['*'];
    // Unknown API paths answer in the API's error shape, not with a page.
    if (rest.startsWith('api/') || rest === 'api' || rest === 'metrics') return notFound(reply);
    return serve(req, reply, rest);
  });
}
