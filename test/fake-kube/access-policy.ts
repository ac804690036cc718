/** One grant: a user or group may use these verbs on ProfilingSessions in a namespace (`*`: every one). */
interface Grant {
  subject: string;
  namespace: string;
  verbs: string[];
}

/**
 * The fake's authorizer for SubjectAccessReview (authorization.k8s.io/v1), a tiny RBAC: tests grant
 * `user → namespace → verbs` on `profilingsessions.sonde.dev` (a RoleBinding; namespace `*` is a
 * ClusterRoleBinding, which also answers the cluster-wide question `namespace: ""`), and non-resource
 * paths (`/metrics`). Subjects are usernames or `group:NAME`. Everything not granted is denied.
 */
export class AccessPolicy {
  private readonly grants: Grant[] = [];
  private readonly paths: { subject: string; path: string }[] = [];

  /** `subject` may use `verbs` on profilingsessions in `namespace` (`*` for every namespace). */
  allow(subject: string, namespace: string, verbs: string[] = ['get', 'list', 'watch']): void {
    this.grants.push({ subject, namespace, verbs });
  }

  /** `subject` may `get` the non-resource URL `path`. */
  allowPath(subject: string, path: string): void {
    this.paths.push({ subject, path });
  }

  /** Removes every grant of `subject` (a RoleBinding deleted). */
  revoke(subject: string): void {
    for (let i = this.grants.length - 1; i >= 0; i--) if (this.grants[i]!.subject === subject) this.grants.splice(i, 1);
    for (let i = this.paths.length - 1; i >= 0; i--) if (this.paths[i]!.subject === subject) this.paths.splice(i, 1);
  }

  clear(): void {
    this.grants.length = 0;
    this.paths.length = 0;
  }

  /** The body of a SubjectAccessReview answer for a request body. */
  review(body: any): Record<string, unknown> {
    const spec = body?.spec ?? {};
    const subjects = new Set<string>([String(spec.user ?? ''), ...((Array.isArray(spec.groups) ? spec.groups : []) as string[]).map((g) => `group:${g}`)]);
    let allowed = false;
    const ra = spec.resourceAttributes;
    const nra = spec.nonResourceAttributes;
    if (ra && ra.group === 'sonde.dev' && ra.resource === 'profilingsessions') {
      const ns = String(ra.namespace ?? '');
      allowed = this.grants.some((g) => subjects.has(g.subject) && g.verbs.includes(ra.verb) && (g.namespace === '*' || (ns !== '' && g.namespace === ns)));
    } else if (nra) {
      allowed = nra.verb === 'get' && this.paths.some((p) => subjects.has(p.subject) && p.path === nra.path);
    }
    return { kind: 'SubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', metadata: { creationTimestamp: null }, spec, status: allowed ? { allowed: true, reason: 'granted by the fake policy' } : { allowed: false } };
  }
}
