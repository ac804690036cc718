/**
 * The hash router. Every view state that matters (session, zoom, search, filters) lives in the URL, so a
 * copied link reopens the exact view:
 *   #/sessions
 *   #/sessions/:id?view=flame|icicle&mode=tree|diff&zoom=…&q=…&pod=…&fn=…
 *   #/compare?base=:id&new=:id
 *   #/hotspots?namespace=…&workload=…&request=…
 */

export type Route =
  | { page: 'sessions'; params: URLSearchParams }
  | { page: 'session'; id: string; params: URLSearchParams }
  | { page: 'compare'; params: URLSearchParams }
  | { page: 'hotspots'; params: URLSearchParams }
  | { page: 'not-found'; path: string; params: URLSearchParams };

/** Parses `location.hash` into a route. */
export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, '') || '/sessions';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  const parts = path.split('/').filter(Boolean);
  if (parts.length === 0 || (parts.length === 1 && parts[0] === 'sessions')) return { page: 'sessions', params };
  if (parts[0] === 'sessions' && parts.length >= 2) {
    // ids may be `namespace/name` (encoded or not)
    return { page: 'session', id: decodeURIComponent(parts.slice(1).join('/')), params };
  }
  if (parts[0] === 'compare' && parts.length === 1) return { page: 'compare', params };
  if (parts[0] === 'hotspots' && parts.length === 1) return { page: 'hotspots', params };
  return { page: 'not-found', path, params };
}

/** Builds a hash link, dropping empty parameters. */
export function href(path: string, params: Record<string, string | undefined> | URLSearchParams = {}): string {
  const p = new URLSearchParams();
  const entries = params instanceof URLSearchParams ? [...params.entries()] : Object.entries(params);
  for (const [k, v] of entries) if (v !== undefined && v !== '') p.set(k, v);
  const qs = p.toString();
  return `#${path}${qs ? `?${qs}` : ''}`;
}

/** The link to one session's page. */
export function sessionHref(id: string, params: Record<string, string | undefined> = {}): string {
  return href(`/sessions/${encodeURIComponent(id)}`, params);
}

/**
 * Changes parameters of the current route. `push` adds a history entry (zoom: Back undoes it);
 * otherwise the entry is replaced (typing in search should not flood history).
 */
export function setParams(changes: Record<string, string | undefined>, push = false): void {
  const hash = location.hash.replace(/^#/, '') || '/sessions';
  const q = hash.indexOf('?');
  const path = q < 0 ? hash : hash.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : hash.slice(q + 1));
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === '') params.delete(k);
    else params.set(k, v);
  }
  const next = href(path, params);
  if (next === location.hash) return;
  if (push) location.hash = next;
  else history.replaceState(history.state, '', next);
  // replaceState fires no hashchange; tell the app so the page updates the same way either way.
  if (!push) window.dispatchEvent(new HashChangeEvent('hashchange'));
}

/** The identity of a route's page: a change of identity mounts a new page, otherwise the page updates. */
export function routeKey(r: Route): string {
  return r.page === 'session' ? `session:${r.id}` : r.page;
}
