/**
 * What one caller may do, decided once per request at the edge (the API's onRequest hook) and passed
 * inward as a value, the kube-rbac-proxy way: every route filters what it shows by it and none asks
 * again. `namespaces` is `'all'` or the namespaces whose profiling results the caller may read.
 */
export interface Access {
  /** Who, for logs and `GET /api/v1/access`: a Kubernetes username, `token` or `anonymous`. */
  readonly user: string;
  readonly namespaces: 'all' | ReadonlySet<string>;
  /** Standalone: may create, delete and purge sessions. */
  readonly write: boolean;
  /** Epoch ms after which the credential is no longer good (event streams end then); absent: never. */
  readonly expiresAt?: number;
}

/** Whether `access` may read what lives in `namespace`. */
export function canRead(access: Access, namespace: string): boolean {
  return access.namespaces === 'all' || access.namespaces.has(namespace);
}

/** The namespaces a query is limited to: undefined for every namespace, else a sorted list (maybe empty). */
export function readableList(access: Access): string[] | undefined {
  return access.namespaces === 'all' ? undefined : [...access.namespaces].sort();
}

/** Access to everything: `--auth none` (loopback only) and the shared token of standalone mode. */
export function fullAccess(user: string, write: boolean): Access {
  return { user, namespaces: 'all', write };
}
