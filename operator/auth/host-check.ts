import { isIP } from 'node:net';

/**
 * Which `Host` names the operator answers for, against DNS rebinding: a page on `evil.example` whose
 * name is re-pointed at 127.0.0.1 (or at the operator's Service through a proxy) makes the browser send
 * `Host: evil.example`; such a request is refused, so the page can neither read the API nor drive a
 * loopback operator. Accepted: IP literals (a rebinding page cannot make the browser send one for its
 * own origin), `localhost` and `*.localhost`, cluster-internal names (`*.svc`, `*.svc.cluster.local`:
 * not resolvable in public DNS), and the names configured (the listen host, `--public-url`'s host).
 */
export interface HostPolicy {
  readonly names: ReadonlySet<string>;
  /** `scheme://host[:port]` of `--public-url`, an origin the UI may be served from behind a proxy. */
  readonly publicOrigin?: string;
}

/** The policy for an operator listening on `host`, reached as `publicUrl` (if set) and `extra` names. */
export function hostPolicy(opts: { host?: string; publicUrl?: string; extra?: readonly string[] }): HostPolicy {
  const names = new Set<string>();
  const add = (name: string | undefined): void => {
    if (name && isIP(name) === 0) names.add(name.toLowerCase().replace(/\.$/, ''));
  };
  add(opts.host);
  for (const n of opts.extra ?? []) add(n);
  let publicOrigin: string | undefined;
  if (opts.publicUrl) {
    try {
      const u = new URL(opts.publicUrl);
      add(u.hostname);
      publicOrigin = u.origin;
    } catch {
      // validateConfig already refused a malformed public URL.
    }
  }
  return publicOrigin ? { names, publicOrigin } : { names };
}

/** The host name of a `Host` header (lowercase, without port, brackets or a trailing dot); undefined if malformed. */
export function hostName(header: string | undefined): string | undefined {
  if (!header || header.length > 300) return undefined;
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.exec(header.trim());
  if (!m) return undefined;
  const name = m[1]!.toLowerCase().replace(/\.$/, '');
  return name.startsWith('[') ? name.slice(1, -1) : name;
}

/** Whether a request with this `Host` header is for us. */
export function hostAllowed(policy: HostPolicy, header: string | undefined): boolean {
  const name = hostName(header);
  if (name === undefined || name === '') return false;
  if (isIP(name) !== 0) return true;
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (name.endsWith('.svc') || name.endsWith('.svc.cluster.local')) return true;
  return policy.names.has(name);
}

/**
 * Whether a request's `Origin` may use the API: no Origin (a non-browser client, or a same-origin GET),
 * or exactly our own origin (the one the `Host` header names) or the public URL's. A cross-site page,
 * a sandboxed `null` origin, or anything malformed is refused.
 */
export function originAllowed(policy: HostPolicy, origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return true;
  if (policy.publicOrigin && origin === policy.publicOrigin) return true;
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return false;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
  return host !== undefined && u.host.toLowerCase() === host.trim().toLowerCase();
}
