import { SondeError } from '../../src/errors.js';
import { PROTOCOL_LIMITS } from '../../src/protocol/messages.js';
import { SPEC_LIMITS } from '../../src/session/validate.js';

/**
 * What one agent connection may cost the operator. Before welcome a socket is nobody's: it may send
 * one small hello (and little else) and there may be only so many such sockets at once. After welcome,
 * an agent is still only trusted to speak for its pod, not to fill the disk: messages and bytes per
 * second are metered, and so are the requests it reports per session.
 */
export interface ConnectionLimits {
  /** Largest single message before welcome (the hello). */
  helloBytes: number;
  /** All bytes a socket may send before welcome (hello plus what it queues while its token is checked). */
  preWelcomeBytes: number;
  /** Sockets upgraded but not yet welcomed; the next upgrade is refused with 503. */
  maxPending: number;
  /** Sustained messages per second after welcome, and the burst allowed above it. */
  messagesPerSecond: number;
  messageBurst: number;
  /** Sustained payload bytes per second after welcome, and the burst (at least one maximum message). */
  bytesPerSecond: number;
  byteBurst: number;
  /** Agent processes one pod may hold open at once (pre-fork workers, Node cluster); one more is refused with 1013. */
  maxProcessesPerPod: number;
}

/**
 * Defaults sized for the worst honest agent: a reconnect flushes an outbox of up to a few hundred
 * messages at once (the burst), a session of 10,000 requests streams a few MB per second at most.
 * Pending memory is bounded by maxPending × preWelcomeBytes = 64 MiB.
 */
export const DEFAULT_CONNECTION_LIMITS: Readonly<ConnectionLimits> = Object.freeze({
  helloBytes: PROTOCOL_LIMITS.maxHelloBytes,
  preWelcomeBytes: 2 * PROTOCOL_LIMITS.maxHelloBytes,
  maxPending: 512,
  messagesPerSecond: 200,
  messageBurst: 1000,
  bytesPerSecond: 4 * 1024 * 1024,
  byteBurst: 2 * PROTOCOL_LIMITS.maxMessageBytes,
  maxProcessesPerPod: 64,
});

/**
 * Requests one connection may report for one session: twice what it was asked for plus 64. The margin
 * covers requests in flight when the count was reached and a batch resent after a store error (the
 * store drops duplicates); what matters is that the bound exists, so a looping agent cannot fill the disk.
 */
export function requestBudget(maxRequests: number): number {
  return 2 * maxRequests + 64;
}

/** A token bucket on an injected time base: `rate` per second, holding at most `burst`. Four numbers. */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.at = now;
  }

  /** Takes `amount` if the bucket holds it; false (and nothing taken) if not. */
  take(amount: number, now: number): boolean {
    if (now > this.at) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
      this.at = now;
    }
    if (amount > this.tokens) return false;
    this.tokens -= amount;
    return true;
  }
}

/**
 * One connection's meters. Created at welcome (nothing before that: pending sockets are bounded by
 * payload size and count instead); kept small because the hub holds one per agent.
 */
export class ConnectionBudget {
  private readonly messages: TokenBucket;
  private readonly bytes: TokenBucket;
  /** Per session: [reported, allowed]. Only sessions the agent reports on. */
  private readonly sessions = new Map<string, [number, number]>();

  constructor(
    private readonly limits: ConnectionLimits,
    now: number,
  ) {
    this.messages = new TokenBucket(limits.messagesPerSecond, limits.messageBurst, now);
    this.bytes = new TokenBucket(limits.bytesPerSecond, limits.byteBurst, now);
  }

  /** Meters one received message; the error to close with when past the rate. */
  admit(bytes: number, now: number): SondeError | undefined {
    if (!this.messages.take(1, now)) return new SondeError('SONDE_RATE_LIMITED', `more than ${this.limits.messagesPerSecond} messages/s (burst ${this.limits.messageBurst})`);
    if (!this.bytes.take(bytes, now)) return new SondeError('SONDE_RATE_LIMITED', `more than ${this.limits.bytesPerSecond} bytes/s (burst ${this.limits.byteBurst})`);
    return undefined;
  }

  /** The operator started the session on this connection, asking for at most `maxRequests`. */
  allow(session: string, maxRequests: number): void {
    const entry = this.sessions.get(session);
    const allowed = requestBudget(maxRequests);
    if (entry) entry[1] = Math.max(entry[1], allowed);
    else this.sessions.set(session, [0, allowed]);
  }

  /**
   * Counts `n` reported requests; the error to close with once past the session's budget. A session
   * claimed in hello (no start on this connection) is held to the largest N a spec may ask for.
   */
  count(session: string, n: number): SondeError | undefined {
    let entry = this.sessions.get(session);
    if (!entry) this.sessions.set(session, (entry = [0, requestBudget(SPEC_LIMITS.requests.max)]));
    entry[0] += n;
    if (entry[0] > entry[1]) return new SondeError('SONDE_TOO_MANY_REQUESTS', `${entry[0]} requests for session ${session.slice(0, 40)}, at most ${entry[1]}`);
    return undefined;
  }

  /** The session is over for this connection. */
  forget(session: string): void {
    this.sessions.delete(session);
  }
}
