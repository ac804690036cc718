import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { PodIdentity } from '../../src/protocol/messages.js';
import type { ReviewGate } from '../auth/review-gate.js';
import type { Clock } from '../clock.js';
import type { AgentAuthenticator, AuthResult } from '../engine/contracts.js';
import { TokenReviewClient, type ReviewedUser } from './token-review-client.js';

export interface TokenReviewAuthenticatorOptions {
  kubeConfig: KubeConfig;
  log: Logger;
  clock?: Clock;
  /** The audience agents' projected tokens are issued for (default `sonde`). */
  audience?: string;
  /** How long a successful review is reused (default 60 s): reconnect storms cost one review per pod. */
  cacheTtlMs?: number;
  /** How long a refused token is remembered (default 10 s). */
  failureTtlMs?: number;
  /** Cached reviews at most (default 20,000); the oldest go first. */
  cacheSize?: number;
  /** Bounds concurrent reviews (default 8 in flight, 512 waiting). */
  gate?: ReviewGate;
  /** A review that takes longer fails (default 5 s). */
  timeoutMs?: number;
}

const POD_NAME = 'authentication.kubernetes.io/pod-name';
const POD_UID = 'authentication.kubernetes.io/pod-uid';
const SA_USER = /^system:serviceaccount:([^:]+):([^:]+)$/;

/**
 * Agent authentication in a cluster. The agent presents its projected ServiceAccount token (audience
 * `sonde`); a TokenReview (TokenReviewClient: cached, bounded, audience-checked) proves who issued it and
 * for which pod (the `pod-name`/`pod-uid` extras that bound tokens carry, the namespace from
 * `system:serviceaccount:NS:SA`). The pod the agent claims must be exactly that pod, or it is refused as
 * forged: an agent speaks only for its own pod. The result carries the token's expiry, at which the hub
 * closes the connection (the agent reconnects with the kubelet's rotated token). An unreachable API
 * server refuses (fail closed).
 */
export class TokenReviewAuthenticator implements AgentAuthenticator {
  private readonly client: TokenReviewClient;
  private readonly log: Logger;

  constructor(opts: TokenReviewAuthenticatorOptions) {
    this.log = opts.log.child({ module: 'agent-auth' });
    this.client = new TokenReviewClient({
      kubeConfig: opts.kubeConfig,
      log: opts.log,
      audience: opts.audience ?? 'sonde',
      ...(opts.clock ? { clock: opts.clock } : {}),
      ...(opts.cacheTtlMs !== undefined ? { cacheTtlMs: opts.cacheTtlMs } : {}),
      ...(opts.failureTtlMs !== undefined ? { failureTtlMs: opts.failureTtlMs } : {}),
      ...(opts.cacheSize !== undefined ? { cacheSize: opts.cacheSize } : {}),
      ...(opts.gate ? { gate: opts.gate } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    });
  }

  /** Reviews sent to the API server (for tests and metrics). */
  get reviews(): number {
    return this.client.reviews;
  }

  /** At the upgrade: no token (or one far larger than any ServiceAccount JWT) is refused before a socket exists. */
  precheck(token: string | undefined): boolean {
    return token !== undefined && token.length > 0 && token.length <= 8192;
  }

  async authenticate(token: string | undefined, claimed: PodIdentity): Promise<AuthResult> {
    if (!token) return { ok: false, code: 'SONDE_UNAUTHENTICATED', message: 'no token: agents in a cluster present their projected ServiceAccount token (audience sonde)' };
    const outcome = await this.client.review(token);
    if (!outcome.ok) return { ok: false, code: 'SONDE_UNAUTHENTICATED', message: outcome.message };
    const bound = podOf(outcome.user);
    if (typeof bound === 'string') return { ok: false, code: 'SONDE_UNAUTHENTICATED', message: bound };
    const { pod, serviceAccount } = bound;
    if (claimed.namespace !== pod.namespace || claimed.name !== pod.name || claimed.uid !== pod.uid) {
      this.log.warn({ claimed, token: pod, serviceAccount }, 'agent claims a pod its token was not issued for');
      return {
        ok: false,
        code: 'SONDE_FORGED_IDENTITY',
        message: `the token was issued for pod ${pod.namespace}/${pod.name} (uid ${pod.uid}), not ${claimed.namespace}/${claimed.name} (uid ${claimed.uid || 'none'})`,
      };
    }
    return outcome.user.expiresAt !== undefined ? { ok: true, pod: { ...pod }, expiresAt: outcome.user.expiresAt } : { ok: true, pod: { ...pod } };
  }
}

/** The pod a reviewed ServiceAccount token is bound to, or why it is not a pod's token. */
function podOf(user: ReviewedUser): { pod: PodIdentity; serviceAccount: string } | string {
  const sa = SA_USER.exec(user.username);
  if (!sa) return `the token is not a ServiceAccount token (user ${JSON.stringify(user.username)})`;
  const name = user.extra[POD_NAME]?.[0];
  const uid = user.extra[POD_UID]?.[0];
  if (!name || !uid) return 'the token is not bound to a pod: mount a projected ServiceAccount token with audience sonde';
  return { pod: { name, namespace: sa[1]!, uid }, serviceAccount: sa[2]! };
}
