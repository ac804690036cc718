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

/** The API server's own audience: what `kubectl create token` issues for, and what a review without `audiences` checks. */
export const API_AUDIENCE = 'https://kubernetes.default.svc.cluster.local';

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
  /** Answer successful reviews with an empty `status.audiences`, as an audience-unaware authenticator does. */
  emptyAudiences = false;

  set(token: string, identity: TokenIdentity): void {
    this.tokens.set(token, identity);
  }

  revoke(token: string): void {
    this.tokens.delete(token);
  }

  /**
   * A token for `pod`, as a projected ServiceAccount token with the given audiences (default `sonde`).
   * With `expiresAt` (epoch ms) it is JWT-shaped and carries that `exp`, as real projected tokens do.
   */
  issuePodToken(pod: PodRef, opts: { serviceAccount?: string; audiences?: string[]; expiresAt?: number } = {}): string {
    const token = opts.expiresAt !== undefined ? jwtShaped(opts.expiresAt) : `fake.${randomBytes(24).toString('base64url')}`;
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

  /**
   * A person's token, as `kubectl create token` or an OIDC provider issues it: JWT-shaped with `exp`
   * (default an hour ahead), for the API server's audience unless told otherwise.
   */
  issueUserToken(username: string, opts: { groups?: string[]; audiences?: string[]; expiresAt?: number } = {}): string {
    const token = jwtShaped(opts.expiresAt ?? Date.now() + 3600_000);
    this.set(token, { username, uid: randomUUID(), groups: [...(opts.groups ?? []), 'system:authenticated'], extra: {}, audiences: opts.audiences ?? [API_AUDIENCE] });
    return token;
  }

  /** The body of a TokenReview response for a request body, as authentication.k8s.io/v1 answers it. */
  review(body: any): Record<string, unknown> {
    const spec = { token: body?.spec?.token ?? '', audiences: body?.spec?.audiences };
    const base = { kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', metadata: { creationTimestamp: null }, spec };
    const id = this.tokens.get(spec.token);
    if (!id) return { ...base, status: { user: {}, error: '[invalid bearer token, token lookup failed]' } };
    // Without audiences in the spec, the API server checks its own (a projected `sonde` token fails there).
    const wanted: string[] = Array.isArray(spec.audiences) && spec.audiences.length ? spec.audiences : [API_AUDIENCE];
    const audiences = id.audiences.filter((a) => wanted.includes(a));
    if (audiences.length === 0) {
      return { ...base, status: { user: {}, error: `[invalid bearer token, token audiences ${JSON.stringify(id.audiences)} is invalid for the target audiences ${JSON.stringify(wanted)}]` } };
    }
    const { username, uid, groups, extra } = id;
    return { ...base, status: { authenticated: true, user: { username, uid, groups, extra }, audiences: this.emptyAudiences ? [] : audiences } };
  }
}

/** An unsigned JWT-shaped token with an `exp` claim (the fake checks tokens by lookup, not signature). */
function jwtShaped(expiresAt: number): string {
  const part = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ exp: Math.floor(expiresAt / 1000), jti: randomUUID() })}.${randomBytes(16).toString('base64url')}`;
}
