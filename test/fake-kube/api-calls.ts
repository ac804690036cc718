import type { RecordedRequest } from './server.js';

/**
 * The fake API server's requests as RBAC sees them: verb, API group, resource, subresource, namespace
 * (undefined: cluster scope) and name. `test/chart/rbac.test.ts` checks each against the chart's rules.
 * Pure: it reads `fake.requests`, so every request the server ever saw can be turned into a call.
 */
export interface ApiCall {
  verb: 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** The RBAC view of one request, or undefined for non-resource paths (`/version`, discovery). */
export function apiCallOf(req: Pick<RecordedRequest, 'method' | 'path' | 'watch'>): ApiCall | undefined {
  const parts = req.path.split('/').filter(Boolean).map(decodeURIComponent);
  let group: string;
  let rest: string[];
  if (parts[0] === 'api' && parts[1] === 'v1') [group, rest] = ['', parts.slice(2)];
  else if (parts[0] === 'apis' && parts.length >= 4) [group, rest] = [parts[1]!, parts.slice(3)];
  else return undefined;
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) [namespace, rest] = [rest[1], rest.slice(2)];
  const [resource, name, subresource] = rest;
  if (!resource) return undefined;
  const verb = verbOf(req.method, name !== undefined, req.watch);
  return { verb, group, resource, ...(subresource ? { subresource } : {}), ...(namespace ? { namespace } : {}), ...(name ? { name } : {}) };
}

function verbOf(method: string, named: boolean, watch: boolean): ApiCall['verb'] {
  switch (method) {
    case 'GET':
      return watch ? 'watch' : named ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return named ? 'delete' : 'deletecollection';
    default:
      throw new Error(`no RBAC verb for HTTP ${method}`);
  }
}

/** `verb group/resource[/sub] ns/name`, for messages. */
export function describeCall(c: ApiCall): string {
  return `${c.verb} ${c.group || 'core'}/${c.resource}${c.subresource ? `/${c.subresource}` : ''} ${c.namespace ? `in ${c.namespace}` : '(cluster scope)'}${c.name ? ` name=${c.name}` : ''}`;
}
