import { warningHeader, warningsOf } from './session-warnings.js';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { SondeError } from '../../src/errors.js';
import { resolveSpec, describeProblems, type SpecProblem } from '../../src/session/validate.js';
import type { SessionPhase } from '../../src/session/types.js';
import type { ApiDeps } from './deps.js';
import { ProblemsError } from './errors.js';
import { listSessions, lookupSession, visibleSession } from './session-lookup.js';
import { canRead } from '../auth/access.js';

const PHASES: SessionPhase[] = ['Pending', 'Running', 'Completed', 'Failed'];
/** Kubernetes object names (DNS-1123 subdomain) and namespaces (DNS-1123 label). */
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The body of `POST /api/v1/sessions`, checked field by field. */
export interface CreateSessionBody {
  name: string;
  namespace: string;
  spec: unknown;
}

/** Checks a create body; every problem at once, with field paths like the spec's. */
export function checkCreateBody(body: unknown): { ok: true; value: CreateSessionBody } | { ok: false; problems: SpecProblem[] } {
  const problems: SpecProblem[] = [];
  if (!body || typeof body !== 'object' || Array.isArray(body)) return { ok: false, problems: [{ field: 'body', message: 'the body must be a JSON object {name, namespace?, spec}' }] };
  const b = body as Record<string, unknown>;
  if (typeof b.name !== 'string' || b.name.length > 253 || !NAME.test(b.name)) {
    problems.push({ field: 'name', message: `name must be a lowercase DNS name (a-z, 0-9, "-", "."; at most 253 characters), got ${JSON.stringify(b.name)}` });
  }
  const namespace = b.namespace ?? 'default';
  if (typeof namespace !== 'string' || namespace.length > 63 || !NAMESPACE.test(namespace)) {
    problems.push({ field: 'namespace', message: `namespace must be a lowercase DNS label (at most 63 characters), got ${JSON.stringify(namespace)}` });
  }
  if (b.spec === undefined) problems.push({ field: 'spec', message: 'spec is required: {selector, request, requests?, duration?, sampleInterval?}' });
  for (const key of Object.keys(b)) if (!['name', 'namespace', 'spec'].includes(key)) problems.push({ field: key, message: `unknown field "${key}"` });
  if (problems.length) return { ok: false, problems };
  return { ok: true, value: { name: b.name as string, namespace: namespace as string, spec: b.spec } };
}

/** `/api/v1/sessions` and `/api/v1/sessions/:id`: list, create (standalone), read, delete (standalone). */
export function sessionRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const standaloneOnly = (what: string): void => {
    if (deps.mode !== 'standalone') throw new SondeError('SONDE_NOT_STANDALONE', what);
  };

  app.get<{ Querystring: { namespace?: string; phase?: string } }>('/api/v1/sessions', async (req) => {
    const { namespace, phase } = req.query;
    if (phase !== undefined && !PHASES.includes(phase as SessionPhase)) {
      throw new ProblemsError('SONDE_INVALID_QUERY', [{ field: 'query.phase', message: `phase must be one of ${PHASES.join(', ')}` }], `unknown phase ${JSON.stringify(phase)}`);
    }
    const filter: { namespace?: string; phase?: SessionPhase } = {};
    if (namespace) filter.namespace = namespace;
    if (phase) filter.phase = phase as SessionPhase;
    return { items: listSessions(deps, filter).filter((s) => canRead(req.access, s.namespace)) };
  });

  app.post('/api/v1/sessions', async (req, reply) => {
    standaloneOnly('POST /api/v1/sessions creates sessions only in standalone mode');
    if (!req.access.write) throw new SondeError('SONDE_FORBIDDEN', `${req.access.user} may not create sessions`);
    const checked = checkCreateBody(req.body);
    if (!checked.ok) {
      // The spec's problems too, so one round trip shows everything to fix.
      const spec = (req.body as { spec?: unknown } | null)?.spec;
      const specResult = spec !== undefined && typeof req.body === 'object' && !Array.isArray(req.body) ? resolveSpec(spec) : undefined;
      const problems = [...checked.problems, ...(specResult && !specResult.ok ? specResult.problems : [])];
      throw new ProblemsError('SONDE_INVALID_BODY', problems, describeProblems(problems));
    }
    const { name, namespace, spec } = checked.value;
    const resolved = resolveSpec(spec);
    if (!resolved.ok) throw new ProblemsError('SONDE_INVALID_SPEC', resolved.problems, describeProblems(resolved.problems));
    if (lookupSession(deps, `${namespace}/${name}`)) {
      throw new SondeError('SONDE_CONFLICT', `a session named ${namespace}/${name} exists (pick another name, or DELETE it with ?purge=true first)`);
    }
    const view = deps.engine.apply({
      id: randomUUID(),
      name,
      namespace,
      source: 'api',
      createdAt: new Date().toISOString(),
      generation: 1,
      spec,
    });
    deps.log.info({ session: view.id, name, namespace, request: resolved.spec.request }, 'session created');
    // Accepted is not the same as fine: a request type no agent has seen yet is said now, not at the deadline.
    const warnings = warningsOf(view);
    if (warnings.length > 0) {
      deps.log.warn({ session: view.id, warnings }, 'session created with warnings');
      reply.header('warning', warnings.map(warningHeader));
    }
    return reply.code(201).header('location', `/api/v1/sessions/${view.id}`).send({ ...view, warnings });
  });

  app.get<{ Params: { id: string } }>('/api/v1/sessions/:id', async (req) => {
    const view = visibleSession(deps, req.params.id, req.access);
    if (!view) throw new SondeError('SONDE_NOT_FOUND', `no session ${JSON.stringify(req.params.id)}`);
    return view;
  });

  app.delete<{ Params: { id: string }; Querystring: { purge?: string } }>('/api/v1/sessions/:id', async (req, reply) => {
    standaloneOnly('in a cluster, delete the ProfilingSession object (kubectl delete profilingsession NAME)');
    const view = visibleSession(deps, req.params.id, req.access);
    if (view && !req.access.write) throw new SondeError('SONDE_FORBIDDEN', `${req.access.user} may not delete sessions`);
    if (!view) throw new SondeError('SONDE_NOT_FOUND', `no session ${JSON.stringify(req.params.id)}`);
    deps.engine.remove(view.id);
    deps.log.info({ session: view.id, name: view.name, namespace: view.namespace }, 'session deleted');
    const purge = req.query.purge === 'true' || req.query.purge === '1';
    if (purge) {
      if (!deps.purge) throw new SondeError('SONDE_INTERNAL', 'this store cannot purge results');
      deps.purge(view.id);
      return reply.code(204).send();
    }
    return lookupSession(deps, view.id) ?? view;
  });
}
