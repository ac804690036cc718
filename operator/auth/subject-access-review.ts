import { createHash } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { SondeError } from '../../src/errors.js';
import { systemClock, type Clock } from '../clock.js';
import type { ReviewedUser } from '../kube/token-review-client.js';
import { kubePost } from './kube-post.js';
import { ReviewGate } from './review-gate.js';

/** One question to the API server's authorizer. */
export type AccessQuestion =
  /** A verb on ProfilingSessions (sonde.dev) in a namespace; `''` asks for every namespace at once. */
  | { namespace: string; verb: 'get' | 'list' }
  /** A verb on a path outside the resource API, e.g. `/metrics`. */
  | { path: string; verb: 'get' };

export interface AccessReviewClientOptions {
  kubeConfig: KubeConfig;
  log: Logger;
  clock?: Clock;
  /** How long an answer, yes or no, is reused (default 30 s). */
  ttlMs?: number;
  /** Cached answers at most (default 50,000). */
  cacheSize?: number;
  gate?: ReviewGate;
  /** A review that takes longer fails (default 5 s). */
  timeoutMs?: number;
}

/**
 * SubjectAccessReview (authorization.k8s.io/v1): may this reviewed user do this? Answers are cached per
 * user (name, uid, groups, extra) and question for `ttlMs`, one review is in flight per key, and reviews
 * share a ReviewGate and a timeout. A review that fails (API server down) throws SONDE_AUTH_UNAVAILABLE
 * and is not cached: the caller gets a 503, never a guess.
 */
export class AccessReviewClient {
  private readonly kc: KubeConfig;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly ttl: number;
  private readonly size: number;
  private readonly timeoutMs: number;
  readonly gate: ReviewGate;
  private readonly cache = new Map<string, { allowed: boolean; until: number }>();
  private readonly inFlight = new Map<string, Promise<boolean>>();
  private readonly userKeys = new WeakMap<ReviewedUser, string>();
  /** Reviews sent to the API server (for tests and the note's measurement). */
  reviews = 0;

  constructor(opts: AccessReviewClientOptions) {
    this.kc = opts.kubeConfig;
    this.log = opts.log.child({ module: 'access-review' });
    this.clock = opts.clock ?? systemClock;
    this.ttl = opts.ttlMs ?? 30_000;
    this.size = opts.cacheSize ?? 50_000;
    this.gate = opts.gate ?? new ReviewGate();
    this.timeoutMs = opts.timeoutMs ?? 5_000;
  }

  async allowed(user: ReviewedUser, q: AccessQuestion): Promise<boolean> {
    const key = `${this.userKey(user)}\u0000${'path' in q ? `path:${q.path}` : `ns:${q.namespace}`}\u0000${q.verb}`;
    const hit = this.cache.get(key);
    if (hit && hit.until > this.clock.now()) return hit.allowed;
    if (hit) this.cache.delete(key);
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.send(user, q).then((allowed) => {
        this.cache.set(key, { allowed, until: this.clock.now() + this.ttl });
        if (this.cache.size > this.size) this.cache.delete(this.cache.keys().next().value!);
        return allowed;
      });
      this.inFlight.set(key, pending);
      void pending.then(
        () => this.inFlight.delete(key),
        () => this.inFlight.delete(key),
      );
    }
    return pending;
  }

  /** The user's identity as a cache key, hashed once per reviewed user (the token cache hands out the same object). */
  private userKey(user: ReviewedUser): string {
    let key = this.userKeys.get(user);
    if (key === undefined) {
      key = createHash('sha256').update(JSON.stringify([user.username, user.uid, user.groups, user.extra])).digest('base64url');
      this.userKeys.set(user, key);
    }
    return key;
  }

  private async send(user: ReviewedUser, q: AccessQuestion): Promise<boolean> {
    const attributes =
      'path' in q
        ? { nonResourceAttributes: { path: q.path, verb: q.verb } }
        : { resourceAttributes: { namespace: q.namespace, verb: q.verb, group: 'sonde.dev', resource: 'profilingsessions' } };
    const body = {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { user: user.username, uid: user.uid, groups: user.groups, extra: user.extra, ...attributes },
    };
    let answer: any;
    try {
      answer = await this.gate.run(() => {
        this.reviews++;
        return kubePost(this.kc, '/apis/authorization.k8s.io/v1/subjectaccessreviews', body, this.timeoutMs);
      });
    } catch (err) {
      if (err instanceof SondeError) throw err;
      this.log.error({ err }, 'SubjectAccessReview failed');
      throw new SondeError('SONDE_AUTH_UNAVAILABLE', 'the API server did not answer an access review');
    }
    return answer?.status?.allowed === true && answer?.status?.denied !== true;
  }
}
