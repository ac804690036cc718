import { randomBytes, randomUUID } from 'node:crypto';

/** What the fake's TokenReview answers for one token. */
export interface TokenIdentity {
  username: string;
  uid: string;
  groups: string[];
  extra: Record<string, string[]>;
  /** The audiences the token was issued for (a projected token's `audience`). */
  audiences: string[];
}

export interface PodRef {
  name: string;
  namespace: string;
  uid: string;
}

/**
 * The tokens the fake API server knows, as TokenReview sees them. `issuePodToken` mints what the kubelet
 * projects into a pod: a ServiceAccount token bound to that pod, whose review carries the pod's name and
 * uid in `user.extra` (the claims Sonde binds an agent connection to).
 */
export class TokenBook {
  private readonly tokens = new Map<string, TokenIdentity>();

  set(token: string, identity: TokenIdentity): void {
    this.tokens.set(token, identity);
  }

  revoke(token: string): void {
    this.tokens.delete(token);
  }

  /** A token for `pod`, as a projected ServiceAccount token with the given audiences (default `sonde`). */
  issuePodToken(pod: PodRef, opts: { serviceAccount?: string; audiences?: string[] } = {}): string {
    const token = `fake.${randomBytes(24).toString('base64url')}`;
    const sa = opts.serviceAccount ?? 'default';
    this.set(token, {
      username: `system:serviceaccount:${pod.namespace}:${sa}`,
      uid: randomUUID(),
      groups: ['system:serviceaccounts', `system:serviceaccounts:${pod.namespace}`, 'system:authenticated'],
      extra: {
        'authentication.kubernetes.io/pod-name': [pod.name],
        'authentication.kubernetes.io/pod-uid': [pod.uid],
        'authentication.kubernetes.io/credential-id': [`JTI=${randomUUID()}`],
      },
      audiences: opts.audiences ?? ['sonde'],
    });
    return token;
  }

  /** The body of a TokenReview response for a request body, as authentication.k8s.io/v1 answers it. */
  review(body: any): Record<string, unknown> {
    const spec = { token: body?.spec?.token ?? '', audiences: body?.spec?.audiences };
    const base = { kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', metadata: { creationTimestamp: null }, spec };
    const id = this.tokens.get(spec.token);
    if (!id) return { ...base, status: { user: {}, error: '[invalid bearer token, token lookup failed]' } };
    const wanted: string[] = Array.isArray(spec.audiences) && spec.audiences.length ? spec.audiences : id.audiences;
    const audiences = id.audiences.filter((a) => wanted.includes(a));
    if (audiences.length === 0) {
      return { ...base, status: { user: {}, error: `[invalid bearer token, token audiences ${JSON.stringify(id.audiences)} is invalid for the target audiences ${JSON.stringify(wanted)}]` } };
    }
    const { username, uid, groups, extra } = id;
    return { ...base, status: { authenticated: true, user: { username, uid, groups, extra }, audiences } };
  }
}
