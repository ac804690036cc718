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
  /** Sessions the agent said in hello it is still running (after a reconnect). */
  readonly claimed: readonly string[];
  /** The current catalogue: the hello one, then each `catalogue` message's. */
  catalogue: RequestTypeStats[];
  /** Sessions the operator started on this connection. With `claimed`, the sessions it may report on. */
  readonly sessions: Set<string>;
}

/** Agent messages after hello, as the hub hands them to its listener. */
export type AgentReport = Exclude<AgentMessage, HelloMessage>;

/** `namespace/name`: a pod's key in the hub's indexes. */
export function podKey(pod: PodIdentity): string {
  return `${pod.namespace}/${pod.name}`;
}
