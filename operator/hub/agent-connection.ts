import type { AgentMessage, HelloMessage, PodIdentity, RequestTypeStats } from '../../src/protocol/messages.js';

/**
 * One authenticated agent connection as the engine sees it. Kept small on purpose: the hub holds ten
 * thousand of these, so there is no timer, buffer or closure here beyond what `ws` itself needs.
 */
export interface AgentConnection {
  /** The operator's id for this connection (sent in welcome). */
  readonly id: string;
  /** The pod this connection is bound to: the identity its credentials proved, never one a later message names. */
  readonly pod: PodIdentity;
  /** Labels announced in hello (standalone selectors use them; in a cluster the pod informer's win). */
  readonly labels: Record<string, string>;
  readonly agent: HelloMessage['agent'];
  /** Epoch ms. */
  readonly connectedAt: number;
  /** Sessions the agent said in hello it is still running (after a reconnect). Claims only: the engine grants or refuses each. */
  readonly claimed: readonly string[];
  /** Sessions the agent said in hello had ended while it still holds results for them (Sonde 0.2). Claims too. */
  readonly ended: readonly string[];
  /** The agent keeps `requests` batches until acknowledged (hello `acks`), so the operator sends `ack`. */
  readonly acks: boolean;
  /** (Sonde 0.4) The agent honours `limit` (hello `limits`); other agents are never sent one. */
  readonly limits: boolean;
  /** The current catalogue: the hello one, then each `catalogue` message's. */
  catalogue: RequestTypeStats[];
  /**
   * The sessions this connection may report on: those the operator started on it or whose claim (from
   * hello) the engine granted. Reports on any other session break the out-of-order rule.
   */
  readonly sessions: Set<string>;
  /** Claims the engine refused: their reports are dropped (and acknowledged, so the agent lets go), not fatal. */
  readonly refused: Set<string>;
}

/** Agent messages after hello, as the hub hands them to its listener. */
export type AgentReport = Exclude<AgentMessage, HelloMessage>;

/** `namespace/name`: a pod's key in the hub's indexes. */
export function podKey(pod: PodIdentity): string {
  return `${pod.namespace}/${pod.name}`;
}
