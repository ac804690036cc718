/**
 * JSON schemas of the query strings the REST API reads. Without one, fastify hands a handler whatever
 * the URL held: `?pod=a&pod=b` arrives as an array, and an array bound into SQL or a cache key is a
 * 500 (or worse, a new cache entry per spelling). With one, a repeated or oversized parameter is a 400
 * naming it (`querystring.pod`), before the handler runs. Values the handlers check themselves
 * (formats, split, weight) are typed and bounded here and keep their own messages there. Unknown
 * parameters are dropped (fastify's `removeAdditional`), so they cannot vary a cache key either.
 */

/** A single short text parameter: a scalar (never an array) of bounded length. */
const text = (maxLength: number): Record<string, unknown> => ({ type: 'string', maxLength });

/** Kubernetes names are at most 253 characters; request ids and types are bounded by the protocol. */
const NAME = text(253);

/** `GET /api/v1/sessions/:id/tree`. */
export const TREE_QUERY = {
  type: 'object',
  properties: { pod: NAME, split: text(16), request: text(4096), format: text(32), weight: text(16) },
} as const;

/** `GET /api/v1/sessions/:id/requests`. */
export const REQUESTS_QUERY = { type: 'object', properties: { pod: NAME } } as const;

/** `GET /api/v1/hotspots`. */
export const HOTSPOTS_QUERY = {
  type: 'object',
  properties: { namespace: NAME, workload: NAME, request: text(512), limit: text(8), by: text(8) },
} as const;

/** `GET /api/v1/events`. */
export const EVENTS_QUERY = { type: 'object', properties: { namespace: NAME } } as const;
