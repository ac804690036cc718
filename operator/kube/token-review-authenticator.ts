import { createHash } from 'node:crypto';
import { AuthenticationV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { PodIdentity } from '../../src/protocol/messages.js';
import { systemClock, type Clock } from '../clock.js';
import type { AgentAuthenticator, AuthResult } from '../engine/contracts.js';

export interface TokenReviewAuthenticatorOptions {
  kubeConfig: KubeConfig;
  log: Logger;
  clock?: Clock;
  /** The audience agents' projected tokens are issued for (default `sonde`). */
  audience?: string;
  /** How long a successful review is reused (default 60 s): reconnect storms cost one review per pod. */
  cacheTtlMs?: number;
  /** Cached reviews at most (default 20,000); the oldest go first. */
  cacheSize?: number;
}

/** What a successful review proved: the pod the token was issued for. */
interface Claims {
  pod: PodIdentity;
  serviceAccount: string;
  expires: number;
}

const POD_NAME = 'authentication.kubernetes.io/pod-name';
const POD_UID = 'authentication.kubernetes.io/pod-uid';
const SA_USER = /^system:serviceaccount:([^:]+):([^:]+)$/;

/**
 * Agent authentication in a cluster. The agent presents its projected ServiceAccount token (audience
 * `sonde`); a TokenReview proves who issued it and for which pod (the `pod-name`/`pod-uid` extras that
 * bound tokens carry, the namespace from `system:serviceaccount:NS:SA`). The pod the agent claims must
 * be exactly that pod, or it is refused as forged: an agent speaks only for its own pod. Reviews that
 * succeed are cached briefly by the token's hash; failures are not cached, and an unreachable API
 * server refuses (fail closed).
 */
export class TokenReviewAuthenticator implements AgentAuthenticator {
  private readonly api: AuthenticationV1Api;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly audience: string;
  private readonly ttl: number;
  private readonly size: number;
  private readonly cache = new Map<string, Claims>();
  /** Reviews sent (for tests and metrics). */
  reviews = 0;

  constructor(opts: TokenReviewAuthenticatorOptions) {
    this.api = opts.kubeConfig.makeApiClient(AuthenticationV1Api);
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log.child({ module: 'token-review' });
    this.audience = opts.audience ?? 'sonde';
    this.ttl = opts.cacheTtlMs ?? 60_000;
    this.size = opts.cacheSize ?? 20_000;
  }

  /** At the upgrade: no token (or one far larger than any ServiceAccount JWT) is refused before a socket exists. */
  precheck(token: string | undefined): boolean {
    return token !== undefined && token.length > 0 && token.length <= 8192;
  }

  async authenticate(token: string | undefined, claimed: PodIdentity): Promise<AuthResult> {
    if (!token) return { ok: false, code: 'SONDE_UNAUTHENTICATED', message: 'no token: agents in a cluster present their projected ServiceAccount token (audience sonde)' };
    const key = createHash('sha256').update(token).digest('base64url');
    let claims = this.cache.get(key);
    if (claims && claims.expires <= this.clock.now()) {
      this.cache.delete(key);
      claims = undefined;
    }
    if (!claims) {
      const reviewed = await this.review(token);
      if (!reviewed.ok) return reviewed;
      claims = reviewed.claims;
      this.cache.set(key, claims);
      if (this.cache.size > this.size) this.cache.delete(this.cache.keys().next().value!);
    }
    const { pod } = claims;
    if (claimed.namespace !== pod.namespace || claimed.name !== pod.name || claimed.uid !== pod.uid) {
      this.log.warn({ claimed, token: pod, serviceAccount: claims.serviceAccount }, 'agent claims a pod its token was not issued for');
      return {
        ok: false,
        code: 'SONDE_FORGED_IDENTITY',
        message: `the token was issued for pod ${pod.namespace}/${pod.name} (uid ${pod.uid}), not ${claimed.namespace}/${claimed.name} (uid ${claimed.uid || 'none'})`,
      };
    }
    return { ok: true, pod: { ...pod } };
  }

  private async review(token: string): Promise<{ ok: true; claims: Claims } | Extract<AuthResult, { ok: false }>> {
    const refuse = (message: string): Extract<AuthResult, { ok: false }> => ({ ok: false, code: 'SONDE_UNAUTHENTICATED', message });
    let status;
    try {
      this.reviews++;
      const res = await this.api.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [this.audience] } } });
      status = res.status;
    } catch (err) {
      this.log.error({ err }, 'TokenReview failed');
      return refuse('the token could not be verified (TokenReview failed); try again');
    }
    if (!status?.authenticated) return refuse(`the token was refused: ${status?.error ?? 'not authenticated'}`);
    if (status.audiences && status.audiences.length > 0 && !status.audiences.includes(this.audience)) {
      return refuse(`the token is not for audience ${this.audience}`);
    }
    const user = status.user ?? {};
    const sa = SA_USER.exec(user.username ?? '');
    if (!sa) return refuse(`the token is not a ServiceAccount token (user ${JSON.stringify(user.username ?? '')})`);
    const name = user.extra?.[POD_NAME]?.[0];
    const uid = user.extra?.[POD_UID]?.[0];
    if (!name || !uid) return refuse('the token is not bound to a pod: mount a projected ServiceAccount token with audience sonde');
    return { ok: true, claims: { pod: { name, namespace: sa[1]!, uid }, serviceAccount: sa[2]!, expires: this.clock.now() + this.ttl } };
  }
}
