import type {
  AccessResponse,
  ApiErrorBody,
  CreateSessionBody,
  HotspotsResponse,
  InfoResponse,
  ItemsResponse,
  RequestSummaryView,
  RequestTypeView,
  SessionView,
  TreeResponse,
} from './types.js';
import { credentials } from './credentials.js';

/** The base path of the REST API; the UI is served by the same operator. */
export const API_BASE = 'api/v1';

/**
 * An API failure the page can show: `unreachable` when no answer came at all (the operator is down or
 * the port-forward broke), otherwise the operator's error code and message.
 */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly problems: { field: string; message: string }[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get unreachable(): boolean {
    return this.status === 0;
  }
}

/** Tree filters the API understands; the UI carries the same ones in its URLs. */
export interface TreeQuery {
  pod?: string | undefined;
  split?: 'slow' | 'typical' | undefined;
  request?: string | undefined;
}

/** Builds an API URL relative to the page, dropping empty query values. */
export function apiUrl(path: string, query: Record<string, string | number | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const qs = params.toString();
  return `${API_BASE}${path}${qs ? `?${qs}` : ''}`;
}

async function request<T>(url: string, init?: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, headers: { accept: 'application/json', ...credentials.headers(), ...(init?.headers ?? {}) } });
  } catch (err) {
    throw new ApiError(`The Sonde operator cannot be reached (${(err as Error).message})`, 0, 'UNREACHABLE');
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const e = (body as Partial<ApiErrorBody> | undefined)?.error;
    // A proxy in front of a dead operator answers 502/503/504 with HTML: that is "unreachable" too.
    if (!e && res.status >= 502 && res.status <= 504) {
      throw new ApiError(`The Sonde operator cannot be reached (HTTP ${res.status} from a proxy)`, 0, 'UNREACHABLE');
    }
    const error = new ApiError(e?.message ?? `HTTP ${res.status} ${res.statusText}`, res.status, e?.code ?? `HTTP_${res.status}`, e?.problems ?? []);
    // No token, or a refused one: the app asks for a token (the page shows the form, not an error).
    if (res.status === 401) credentials.required({ code: error.code, message: error.message });
    throw error;
  }
  if (body === undefined) throw new ApiError(`The operator sent an unreadable answer for ${url}`, res.status, 'BAD_RESPONSE');
  return body as T;
}

/** The REST API of docs/api.md, one method per endpoint the UI uses. */
export const api = {
  info: () => request<InfoResponse>(apiUrl('/info')),
  access: () => request<AccessResponse>(apiUrl('/access')),
  sessions: () => request<ItemsResponse<SessionView>>(apiUrl('/sessions')).then((r) => r.items),
  session: (id: string) => request<SessionView>(apiUrl(`/sessions/${encodeURIComponent(id)}`)),
  tree: (id: string, q: TreeQuery = {}) =>
    request<TreeResponse>(apiUrl(`/sessions/${encodeURIComponent(id)}/tree`, { pod: q.pod, split: q.split, request: q.request })),
  requests: (id: string) => request<ItemsResponse<RequestSummaryView>>(apiUrl(`/sessions/${encodeURIComponent(id)}/requests`)).then((r) => r.items),
  requestTypes: () => request<ItemsResponse<RequestTypeView>>(apiUrl('/request-types')).then((r) => r.items),
  hotspots: (q: { namespace?: string; workload?: string; request?: string; limit?: number }) =>
    request<HotspotsResponse>(apiUrl('/hotspots', q)),
  createSession: (body: CreateSessionBody) =>
    request<SessionView>(apiUrl('/sessions'), { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
};

/** The download URL of a tree export with the view's current filters. */
export function exportUrl(id: string, format: string, q: TreeQuery = {}): string {
  return apiUrl(`/sessions/${encodeURIComponent(id)}/tree`, { format, pod: q.pod, split: q.split, request: q.request });
}
