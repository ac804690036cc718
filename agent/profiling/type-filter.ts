/**
 * What can be known about a unit of work when it starts, before routing: enough to rule a session
 * out. An HTTP request's final type (`METHOD route`) is often settled only once the framework has
 * routed it, but its method is known at once, and a route template's literal start (`/api/orders/` of
 * `/api/orders/:id`) must begin its path. Requests a session cannot want get no sampling context at
 * all, which keeps the cost of a session on the other types near that of an idle agent.
 */
export type WorkHint = { method: string; url: string } | { type: string };

/** Decides, at a request's start, whether a session's type could still be the request's type. */
export class TypeFilter {
  private readonly method: string | undefined;
  private readonly prefix: string | undefined;

  constructor(private readonly type: string) {
    const space = type.indexOf(' ');
    const route = space > 0 ? type.slice(space + 1) : '';
    if (space > 0 && route.startsWith('/')) {
      this.method = type.slice(0, space);
      // Up to the first parameter, wildcard or pattern character; compared case-insensitively because
      // express routes are case-insensitive by default.
      const cut = route.search(/[:*(?[{\\^$+|]/);
      this.prefix = (cut < 0 ? route : route.slice(0, cut)).toLowerCase();
    }
  }

  mightMatch(hint: WorkHint): boolean {
    if ('type' in hint) return hint.type === this.type;
    if (this.method === undefined || this.prefix === undefined) return true;
    if (hint.method !== this.method) return false;
    const url = hint.url;
    if (!url.startsWith('/')) return true; // absolute-form (proxy) targets: cannot tell yet
    return url.startsWith(this.prefix) || url.toLowerCase().startsWith(this.prefix) || this.prefix.startsWith(pathOf(url).toLowerCase() + '/');
  }
}

/** A mount path without the trailing slash still matches (`/api` for route `/api/`). */
function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q >= 0 ? url.slice(0, q) : url;
}
