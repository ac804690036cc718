import { createHash } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { SondeError } from '../../src/errors.js';
import { kubePost } from '../auth/kube-post.js';
import { ReviewGate } from '../auth/review-gate.js';
import { systemClock, type Clock } from '../clock.js';

/** Who a token belongs to, as a TokenReview proved it. */
export interface ReviewedUser {
  username: string;
  uid: string;
  groups: string[];
  extra: Record<string, string[]>;
  /** The audiences the API server says the token is valid for. */
  audiences: string[];
  /** The token's `exp` (epoch ms) when it is a JWT; the credential is good until then only. */
  expiresAt?: number;
}

/** A review's outcome: the user, or why not; `transient` when the review itself failed (retry later). */
export type TokenReviewOutcome = { ok: true; user: ReviewedUser } | { ok: false; transient: boolean; message: string };

export interface TokenReviewClientOptions {
  kubeConfig: KubeConfig;
  log: Logger;
  clock?: Clock;
  /** The audience to review for (agents: `sonde`); undefined: the API server's own (people's tokens). */
  audience?: string;
  /** How long a successful review is reused (default 60 s), never past the token's own expiry. */
  cacheTtlMs?: number;
  /** How long a refusal is remembered (default 10 s): a flood of one bad token costs one review. */
  failureTtlMs?: number;
  /** How long a failed review (API server down, timeout) is remembered (default 0: retried at once; the gate bounds the load). */
  transientTtlMs?: number;
  /** Cached outcomes at most (default 20,000); the oldest go first. */
  cacheSize?: number;
  /** Bounds concurrent reviews (default: 8 in flight, 512 queued). */
  gate?: ReviewGate;
  /** A review that takes longer fails (default 5 s). */
  timeoutMs?: number;
}

interface Entry {
  outcome: TokenReviewOutcome;
  until: number;
}

/**
 * TokenReview with the care a shared cluster needs: outcomes cached by the token's hash (successes until
 * the TTL or the token's expiry, refusals briefly), one review in flight per token however many callers
 * ask at once, reviews bounded in concurrency (ReviewGate) and time (`timeoutMs`), and an answer that
 * names no audience refused when an audience was asked for: the API server (or an audience-unaware
 * webhook authenticator behind it) then has not shown that the token was issued for us.
 */
export class TokenReviewClient {
  private readonly kc: KubeConfig;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly audience: string | undefined;
  private readonly ttl: number;
  private readonly failureTtl: number;
  private readonly transientTtl: number;
  private readonly size: number;
  private readonly timeoutMs: number;
  readonly gate: ReviewGate;
  private readonly cache = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<TokenReviewOutcome>>();
  /** Reviews sent to the API server (for tests and metrics). */
  reviews = 0;

  constructor(opts: TokenReviewClientOptions) {
    this.kc = opts.kubeConfig;
    this.log = opts.log.child({ module: 'token-review' });
    this.clock = opts.clock ?? systemClock;
    this.audience = opts.audience;
    this.ttl = opts.cacheTtlMs ?? 60_000;
    this.failureTtl = opts.failureTtlMs ?? 10_000;
    this.transientTtl = opts.transientTtlMs ?? 0;
    this.size = opts.cacheSize ?? 20_000;
    this.gate = opts.gate ?? new ReviewGate();
    this.timeoutMs = opts.timeoutMs ?? 5_000;
  }

  /** Reviews `token` (or answers from the cache). Never throws. */
  async review(token: string): Promise<TokenReviewOutcome> {
    const key = createHash('sha256').update(token).digest('base64url');
    const now = this.clock.now();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.outcome;
    if (hit) this.cache.delete(key);
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.send(token).then((outcome) => {
        this.remember(key, outcome);
        return outcome;
      });
      this.inFlight.set(key, pending);
      void pending.finally(() => this.inFlight.delete(key));
    }
    return pending;
  }

  private remember(key: string, outcome: TokenReviewOutcome): void {
    const now = this.clock.now();
    const until = outcome.ok ? Math.min(now + this.ttl, outcome.user.expiresAt ?? Infinity) : now + (outcome.transient ? this.transientTtl : this.failureTtl);
    this.cache.set(key, { outcome, until });
    if (this.cache.size > this.size) this.cache.delete(this.cache.keys().next().value!);
  }

  private async send(token: string): Promise<TokenReviewOutcome> {
    const refuse = (message: string): TokenReviewOutcome => ({ ok: false, transient: false, message });
    let answer: any;
    try {
      answer = await this.gate.run(() => {
        this.reviews++;
        const spec = this.audience ? { token, audiences: [this.audience] } : { token };
        return kubePost(this.kc, '/apis/authentication.k8s.io/v1/tokenreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec }, this.timeoutMs);
      });
    } catch (err) {
      const busy = err instanceof SondeError;
      if (!busy) this.log.error({ err }, 'TokenReview failed');
      return { ok: false, transient: true, message: busy ? err.message : 'the token could not be verified (TokenReview failed); try again' };
    }
    const status = answer?.status;
    if (status?.authenticated !== true) return refuse(`the token was refused: ${typeof status?.error === 'string' ? status.error.slice(0, 200) : 'not authenticated'}`);
    const audiences: string[] = Array.isArray(status.audiences) ? status.audiences.filter((a: unknown): a is string => typeof a === 'string') : [];
    if (this.audience) {
      if (audiences.length === 0) return refuse(`the API server's review names no audience, so it does not show the token is for ${this.audience}`);
      if (!audiences.includes(this.audience)) return refuse(`the token is not for audience ${this.audience}`);
    }
    const u = status.user ?? {};
    if (typeof u.username !== 'string' || u.username === '') return refuse('the review names no user');
    const user: ReviewedUser = {
      username: u.username,
      uid: typeof u.uid === 'string' ? u.uid : '',
      groups: Array.isArray(u.groups) ? u.groups.filter((g: unknown): g is string => typeof g === 'string') : [],
      extra: extraOf(u.extra),
      audiences,
    };
    const exp = jwtExpiry(token);
    if (exp !== undefined) {
      if (exp <= this.clock.now()) return refuse('the token has expired');
      user.expiresAt = exp;
    }
    return { ok: true, user };
  }
}

function extraOf(extra: unknown): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (!extra || typeof extra !== 'object') return out;
  for (const [k, v] of Object.entries(extra as Record<string, unknown>)) if (Array.isArray(v)) out[k] = v.filter((s): s is string => typeof s === 'string');
  return out;
}

/**
 * The `exp` claim of a JWT, in epoch ms, read only after the API server has authenticated the token (so
 * the claim is the issuer's). Opaque tokens have none: their expiry is the API server's business, and
 * the cache TTL bounds how long a revoked one is still taken.
 */
export function jwtExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
