import type { Logger } from 'pino';
import { SondeError } from '../../src/errors.js';
import { systemClock, type Clock } from '../clock.js';
import type { TokenReviewClient } from '../kube/token-review-client.js';
import type { Access } from './access.js';
import type { AccessPurpose, AccessResolver } from './access-resolver.js';
import { bearerToken } from './bearer.js';
import type { AccessReviewClient } from './subject-access-review.js';

export interface KubernetesAccessOptions {
  /** Reviews people's tokens for the API server's own audience (no `audiences` in the spec). */
  tokens: TokenReviewClient;
  reviews: AccessReviewClient;
  /** The namespaces Sonde holds anything in (sessions, agents): the only ones worth a review. */
  knownNamespaces(): Iterable<string>;
  /** The operator watches only this namespace: the one review asked. */
  namespace?: string;
  /** Namespace reviews per request at most, when the cluster-wide one says no (default 200). */
  maxNamespaceReviews?: number;
  log: Logger;
  clock?: Clock;
}

/**
 * `--auth kubernetes`: people present a Kubernetes bearer token (`kubectl create token …`, an OIDC id
 * token); TokenReview says who they are, SubjectAccessReview what they may read, the kube-rbac-proxy way.
 * A namespace is readable when the caller may `list` ProfilingSessions (sonde.dev) there. One review
 * asks for every namespace at once (`namespace: ""`, a ClusterRole); if that says no, one review per
 * namespace Sonde holds anything in, at most `maxNamespaceReviews` (sorted; the rest stay hidden and a
 * warning is logged). Every answer is cached (30 s by default), so a page's burst of requests costs the
 * reviews once. `/metrics` needs `get` on the non-resource URL `/metrics`, as kube-rbac-proxy asks.
 * Nobody writes through the API in a cluster: sessions are objects, written with kubectl.
 */
export class KubernetesAccess implements AccessResolver {
  readonly mode = 'kubernetes' as const;
  private readonly max: number;
  private readonly clock: Clock;
  private known: { at: number; list: string[] } | undefined;

  constructor(private readonly opts: KubernetesAccessOptions) {
    this.max = opts.maxNamespaceReviews ?? 200;
    this.clock = opts.clock ?? systemClock;
  }

  async resolve(header: string | string[] | undefined, purpose: AccessPurpose): Promise<Access> {
    if (header === undefined) throw new SondeError('SONDE_AUTH_REQUIRED', 'send a Kubernetes token as Authorization: Bearer <token> (kubectl create token …), or use kubectl port-forward to the local port');
    const token = bearerToken(header);
    if (token === undefined) throw new SondeError('SONDE_TOKEN_REFUSED', 'the Authorization header is not "Bearer <token>"');
    const outcome = await this.opts.tokens.review(token);
    if (!outcome.ok) throw new SondeError(outcome.transient ? 'SONDE_AUTH_UNAVAILABLE' : 'SONDE_TOKEN_REFUSED', outcome.message);
    const user = outcome.user;
    const base = { user: user.username, write: false, ...(user.expiresAt !== undefined ? { expiresAt: user.expiresAt } : {}) };

    if (purpose === 'metrics') {
      if (!(await this.opts.reviews.allowed(user, { path: '/metrics', verb: 'get' }))) throw new SondeError('SONDE_FORBIDDEN', `${user.username} may not get /metrics`);
      return { ...base, namespaces: 'all' };
    }
    if (this.opts.namespace !== undefined) {
      const ns = this.opts.namespace;
      return { ...base, namespaces: new Set((await this.opts.reviews.allowed(user, { namespace: ns, verb: 'list' })) ? [ns] : []) };
    }
    if (await this.opts.reviews.allowed(user, { namespace: '', verb: 'list' })) return { ...base, namespaces: 'all' };
    const known = this.knownNamespaces();
    if (known.length > this.max) this.opts.log.warn({ known: known.length, reviewed: this.max, user: user.username }, 'more namespaces than reviews per request: the rest stay hidden from this user');
    const candidates = known.slice(0, this.max);
    const answers = await Promise.all(candidates.map((ns) => this.opts.reviews.allowed(user, { namespace: ns, verb: 'list' })));
    return { ...base, namespaces: new Set(candidates.filter((_, i) => answers[i])) };
  }

  /** Known namespaces, sorted, recomputed at most once a second (a page loads several resources at once). */
  private knownNamespaces(): string[] {
    const now = this.clock.now();
    if (!this.known || now - this.known.at > 1000) this.known = { at: now, list: [...new Set(this.opts.knownNamespaces())].sort() };
    return this.known.list;
  }
}
