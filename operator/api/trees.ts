import type { FastifyInstance } from 'fastify';
import { SondeError } from '../../src/errors.js';
import type { ExportOptions } from '../../src/export/index.js';
import type { CallTree } from '../../src/model/call-tree.js';
import { serializeTree } from '../../src/model/serialized.js';
import { WEIGHT_NAMES, type WeightName } from '../../src/model/weights.js';
import { parseDuration } from '../../src/session/duration.js';
import type { HotspotFilter, RequestSummary, TreeFilter } from '../store/contracts.js';
import type { ApiDeps } from './deps.js';
import { ProblemsError } from './errors.js';
import { TREE_FORMATS, type TreeFormat, exportTree } from './formats.js';
import { HOTSPOTS_QUERY, REQUESTS_QUERY, TREE_QUERY } from './query-schemas.js';
import { visibleSession } from './session-lookup.js';
import { canRead, readableList } from '../auth/access.js';

interface TreeQuery {
  pod?: string;
  split?: string;
  request?: string;
  format?: string;
  weight?: string;
}

function sampleIntervalUs(text: string): number | undefined {
  try {
    return parseDuration(text) * 1000;
  } catch {
    return undefined;
  }
}

function checkWeight(text: string): WeightName {
  if (!(WEIGHT_NAMES as readonly string[]).includes(text)) {
    throw new ProblemsError('SONDE_INVALID_QUERY', [{ field: 'query.weight', message: `weight must be one of ${WEIGHT_NAMES.join(', ')}` }], `unknown weight ${JSON.stringify(text)}`);
  }
  return text as WeightName;
}

/** The filter a tree query asks for, or a 400 naming the bad parameter. */
function treeFilter(q: TreeQuery): TreeFilter {
  const filter: TreeFilter = {};
  if (q.pod) filter.pod = q.pod;
  if (q.request) filter.requestId = q.request;
  if (q.split !== undefined && q.split !== '') {
    if (q.split !== 'slow' && q.split !== 'typical') {
      throw new ProblemsError('SONDE_INVALID_QUERY', [{ field: 'query.split', message: 'split must be "slow" or "typical"' }], `unknown split ${JSON.stringify(q.split)}`);
    }
    filter.split = q.split;
  }
  return filter;
}

/**
 * The requests a filter selects, by the store's rule: `slow` is duration ≥ the session's p90, `typical`
 * ≤ its p50 (nearest-rank, over all the session's requests), then the pod and request filters.
 */
export function selectRequests(all: RequestSummary[], filter: TreeFilter): RequestSummary[] {
  let out = all;
  if (filter.split && all.length > 0) {
    const sorted = all.map((r) => r.durationMs).sort((a, b) => a - b);
    const rank = (p: number): number => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
    const p90 = rank(0.9);
    const p50 = rank(0.5);
    out = filter.split === 'slow' ? out.filter((r) => r.durationMs >= p90) : out.filter((r) => r.durationMs <= p50);
  }
  if (filter.pod) out = out.filter((r) => r.pod === filter.pod);
  if (filter.requestId) out = out.filter((r) => r.id === filter.requestId);
  return out;
}

/**
 * Tree responses, computed once per tree object and filter. The store hands out the same immutable
 * CallTree for a filter until a request that changes it arrives (then a new object, and so a new
 * entry), so the UI's repeated loads of a large merged tree (60,000 nodes: ~40 ms to serialize and
 * stringify, and the request count) cost a lookup; the text is dropped with the tree.
 */
const bodies = new WeakMap<CallTree, Map<string, string>>();
function treeBody(tree: CallTree, key: string, make: () => string): string {
  let byKey = bodies.get(tree);
  if (!byKey) bodies.set(tree, (byKey = new Map()));
  let body = byKey.get(key);
  if (body === undefined) {
    body = make();
    byKey.set(key, body);
  }
  return body;
}

/** A filename safe in a Content-Disposition header. */
function filename(base: string, ext: string): string {
  return `${base.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 100)}.${ext}`;
}

/** `/api/v1/sessions/:id/tree`, `/api/v1/sessions/:id/requests` and `/api/v1/hotspots`. */
export function treeRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get<{ Params: { id: string }; Querystring: TreeQuery }>('/api/v1/sessions/:id/tree', { schema: { querystring: TREE_QUERY } }, async (req, reply) => {
    const format = (req.query.format || 'json') as TreeFormat;
    if (!TREE_FORMATS.includes(format)) {
      throw new ProblemsError('SONDE_UNSUPPORTED_FORMAT', [{ field: 'query.format', message: `format must be one of ${TREE_FORMATS.join(', ')}` }], JSON.stringify(req.query.format));
    }
    const filter = treeFilter(req.query);
    const view = visibleSession(deps, req.params.id, req.access);
    if (!view) throw new SondeError('SONDE_NOT_FOUND', `no session ${JSON.stringify(req.params.id)}`);
    // A split or one request may need thousands of trees merged: off the event loop's critical path.
    const tree = deps.reader.treeAsync ? await deps.reader.treeAsync(view.id, filter) : deps.reader.tree(view.id, filter);
    // The application roots the tree's agents reported: views and exports show files relative to them.
    const roots = (): string[] => deps.reader.roots?.(view.id, filter.pod !== undefined ? { pod: filter.pod } : {}) ?? [];
    if (format === 'json') {
      const body = treeBody(tree, `${view.id}\u0000${JSON.stringify(filter)}`, () => {
        const requests = selectRequests(deps.reader.requests(view.id), filter).length;
        return `{"session":${JSON.stringify(view.id)},"tree":${JSON.stringify(serializeTree(tree))},"requests":${requests},"filters":${JSON.stringify(filter)},"roots":${JSON.stringify(roots())}}`;
      });
      return reply.type('application/json; charset=utf-8').send(body);
    }
    const parts = [view.namespace, view.name, filter.pod, filter.split, filter.requestId].filter(Boolean).join('-');
    const options: ExportOptions = { name: `${view.namespace}/${view.name} ${view.spec.request}`, sampleIntervalUs: sampleIntervalUs(view.status.sampleInterval ?? view.spec.sampleInterval) };
    if (req.query.weight) options.weight = checkWeight(req.query.weight);
    const exportRoots = roots();
    if (exportRoots.length) options.roots = exportRoots;
    const started = view.status.startedAt ? Date.parse(view.status.startedAt) : NaN;
    if (Number.isFinite(started)) options.startTimeMs = started;
    const out = await exportTree(format, tree, options);
    return reply
      .type(out.contentType)
      .header('content-disposition', `attachment; filename="${filename(`sonde-${parts}`, out.extension)}"`)
      .send(out.body);
  });

  app.get<{ Params: { id: string }; Querystring: { pod?: string } }>('/api/v1/sessions/:id/requests', { schema: { querystring: REQUESTS_QUERY } }, async (req) => {
    const view = visibleSession(deps, req.params.id, req.access);
    if (!view) throw new SondeError('SONDE_NOT_FOUND', `no session ${JSON.stringify(req.params.id)}`);
    return { items: deps.reader.requests(view.id, req.query.pod ? { pod: req.query.pod } : undefined) };
  });

  app.get<{ Querystring: { namespace?: string; workload?: string; request?: string; limit?: string; by?: string } }>('/api/v1/hotspots', { schema: { querystring: HOTSPOTS_QUERY } }, async (req) => {
    const q = req.query;
    const filter: HotspotFilter = {};
    if (q.namespace) filter.namespace = q.namespace;
    if (q.workload) filter.workload = q.workload;
    if (q.request) filter.request = q.request;
    if (q.limit !== undefined) {
      const limit = Number(q.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ProblemsError('SONDE_INVALID_QUERY', [{ field: 'query.limit', message: 'limit must be a whole number from 1 to 1000' }], `bad limit ${JSON.stringify(q.limit)}`);
      filter.limit = limit;
    } else filter.limit = 50;
    if (q.by !== undefined) {
      if (q.by !== 'self' && q.by !== 'total') throw new ProblemsError('SONDE_INVALID_QUERY', [{ field: 'query.by', message: 'by must be "self" or "total"' }], `bad by ${JSON.stringify(q.by)}`);
      filter.by = q.by;
    }
    // Cluster-wide hotspots count only what the caller may read: its namespaces, in SQL.
    if (filter.namespace !== undefined && !canRead(req.access, filter.namespace)) return { items: [], totalUs: 0, roots: [] };
    const readable = readableList(req.access);
    if (readable !== undefined && filter.namespace === undefined) filter.namespaces = readable;
    const out = deps.reader.hotspots(filter);
    // The application roots of the sessions these rows come from, so the page shows files as the session pages do.
    const roots = new Set<string>();
    if (deps.reader.roots) for (const s of new Set(out.items.flatMap((r) => r.groups.flatMap((g) => g.sessions)))) for (const root of deps.reader.roots(s)) roots.add(root);
    return { ...out, roots: [...roots].sort() };
  });
}
