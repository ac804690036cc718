import type { SerializedTree } from '../model/serialized.js';

/**
 * The agent protocol: JSON text frames over one WebSocket that the agent dials to the operator at
 * `/v1/agents`. This file is type-only; `validate.ts` checks what arrives.
 *
 * Versioning: `PROTOCOL_VERSION` is the version both sides speak. An agent announces it in `hello`; the
 * operator refuses versions it does not know with close code 4002. Fields are only ever added, marked
 * with the version that added them; a receiver ignores fields it does not know.
 *
 * Version 1 (Sonde 0.1): everything below.
 * Added within version 1 (Sonde 0.2, all optional, so either side may be older):
 * - `hello.ended`: sessions that ended on the agent while it still holds results for them (requests
 *   finished while the operator was away, an `ended` not yet delivered). The operator takes those
 *   reports from pods that took part, instead of closing on them as out of order.
 * - `hello.acks` / `welcome.acks`: both sides speak acknowledgements: the operator answers each
 *   `requests` batch with `ack` once the store wrote it (or `ack` with `retryAfterMs` when it could
 *   not), and the agent keeps every batch until it is acknowledged, resending it after a reconnect.
 * - `ack`: the message above.
 * - `hello.agent.instance` (Sonde 0.3): a random id the agent process draws when it starts. One pod may
 *   hold several agent processes (pre-fork workers, Node `cluster`, pm2): the operator keeps one
 *   connection per pod and pid, and tells a restarted process that reuses a pid (pid 1 after a container
 *   restart) from the one before it by this id, so its sequence numbers start afresh. Without it, the pid.
 * - `welcome.processesPerPod` (Sonde 0.3): how many agent processes of one pod the operator keeps
 *   connected at once. Absent: one (an older operator), where a 4008 means another process of the pod
 *   took the pod's one connection and an agent should wait before taking it back.
 * - `hello.agent.root` (Sonde 0.4): the absolute directory the agent's application lives in (Node: the
 *   nearest `package.json` above the main module, else the working directory; Python: the working
 *   directory at start; `SONDE_APP_ROOT` overrides both). Views and exports show files inside it
 *   relative to it (src/model/source-path.ts). At most 4096 characters, no NUL.
 * - `limit` and `hello.limits` (Sonde 0.4): an agent that says `limits: true` in hello may be sent
 *   `limit {session, maxRequests}`: the operator lowers the session's cap on that agent as the count
 *   across agents nears N, so several agents together cannot take many more than N. Only agents that
 *   announced it get it (older ones answer unknown messages with an error); `stop` still bounds them.
 *   Agents also send `progress` sooner once few requests remain under their cap (the Node agent on
 *   each request taken, at most every 10 ms; the Python agent on its next 50 ms poll).
 */
export const PROTOCOL_VERSION = 1;

/** The WebSocket path agents dial. */
export const AGENT_PATH = '/v1/agents';

/** Limits both sides enforce. A message over `maxMessageBytes` closes the connection (1009). */
export const PROTOCOL_LIMITS = Object.freeze({
  maxMessageBytes: 8 * 1024 * 1024,
  /** Before welcome (added with the hub's limits): hello must fit in this; a bigger catalogue follows as a `catalogue` message. */
  maxHelloBytes: 64 * 1024,
  maxRequestsPerMessage: 500,
  maxCatalogueEntries: 2000,
  maxLabels: 64,
  maxStringLength: 4096,
});

// ───────────────────────── shared shapes ─────────────────────────

/** Who the agent is. In a cluster the operator binds this to the pod its token was issued for. */
export interface PodIdentity {
  name: string;
  namespace: string;
  /** Empty outside Kubernetes. */
  uid: string;
}

/** One request type as an agent has seen it since it started. */
export interface RequestTypeStats {
  /** `METHOD route`, e.g. `GET /api/orders/:id`, or a custom transaction type. */
  type: string;
  count: number;
  errors: number;
  /** Latency percentiles in milliseconds over a recent window. */
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
}

export type RequestOutcome = 'ok' | 'error' | 'aborted';

/** One profiled request, sent as soon as it finishes. */
export interface RequestRecord {
  /** Unique within the agent's process. */
  id: string;
  type: string;
  /** Epoch milliseconds when the request began. */
  startedAt: number;
  durationMs: number;
  outcome: RequestOutcome;
  /** HTTP status code where there is one. */
  status?: number;
  /** Samples charged to the request's own code. */
  samples: number;
  /** CPU time charged to the request where the sampler measures it, else 0. */
  cpuUs: number;
  /** Wall time the request spent waiting (I/O, timers) — not on the thread. */
  waitingUs: number;
  /** Wall time the request was ready or in flight while other work held the thread. */
  blockedUs: number;
  /** The request's own call tree, rooted at its code; waiting and blocked time appear as synthetic frames. */
  tree: SerializedTree;
}

/** Why a session ended on an agent. */
export type SessionEndReason = 'requests' | 'deadline' | 'stopped' | 'error';

// ───────────────────────── agent → operator ─────────────────────────

export interface HelloMessage {
  type: 'hello';
  protocol: number;
  pod: PodIdentity;
  /** Outside Kubernetes (standalone), the labels sessions select on. In a cluster the pod's labels win. */
  labels: Record<string, string>;
  /**
   * `instance` (Sonde 0.3, optional): the process's random id, drawn once per process start (after a fork too).
   * `root` (Sonde 0.4, optional): the application's root directory, absolute.
   */
  agent: { runtime: 'node' | 'python'; runtimeVersion: string; agentVersion: string; pid: number; instance?: string; root?: string };
  catalogue: RequestTypeStats[];
  /** Sessions this agent is still running, so that an operator restart can resume them. */
  sessions: { session: string; requests: number }[];
  /** (Sonde 0.2) Sessions that ended here while results for them are still unacknowledged or unsent. */
  ended?: string[];
  /** (Sonde 0.2) The agent keeps `requests` batches until the operator acknowledges them. */
  acks?: boolean;
  /** (Sonde 0.4) The agent honours `limit` messages. */
  limits?: boolean;
}

export interface CatalogueMessage {
  type: 'catalogue';
  /** The full current catalogue (not a delta): small, and a lost message then costs nothing. */
  entries: RequestTypeStats[];
}

export interface ProgressMessage {
  type: 'progress';
  session: string;
  /** Matching requests finished so far on this agent. */
  requests: number;
  samples: number;
  inFlight: number;
}

/** Finished requests, streamed as they complete so a dying agent loses only unfinished ones. */
export interface RequestsMessage {
  type: 'requests';
  session: string;
  /** Sequence number per session, from 1, so the operator can drop duplicates after a reconnect. */
  seq: number;
  requests: RequestRecord[];
}

/** The session ended on this agent; every finished request was already sent in `requests`. */
export interface SessionEndedMessage {
  type: 'ended';
  session: string;
  reason: SessionEndReason;
  requests: number;
  samples: number;
  /** Set when reason is 'error': why the sampler could not run. */
  error?: string;
}

export interface AgentErrorMessage {
  type: 'error';
  session?: string;
  code: string;
  message: string;
}

export type AgentMessage =
  | HelloMessage
  | CatalogueMessage
  | ProgressMessage
  | RequestsMessage
  | SessionEndedMessage
  | AgentErrorMessage;

// ───────────────────────── operator → agent ─────────────────────────

export interface WelcomeMessage {
  type: 'welcome';
  protocol: number;
  /** The operator's id for this connection. */
  agentId: string;
  /** The operator pings at this interval; an agent that hears nothing for 3 intervals reconnects. */
  heartbeatMs: number;
  /** (Sonde 0.2) The operator acknowledges `requests` batches (only to agents that said `acks` in hello). */
  acks?: boolean;
  /** (Sonde 0.3) Agent processes of one pod kept connected at once (each keyed by its pid); absent means one. */
  processesPerPod?: number;
}

export interface StartMessage {
  type: 'start';
  session: string;
  /** The request type to profile, exactly as the agent reports it. */
  request: string;
  /** Stop after this many matching requests finish on this agent (the operator also stops it at the global N). */
  maxRequests: number;
  /** Epoch milliseconds: end the session at this time whatever the count. */
  deadline: number;
  sampleIntervalMs: number;
  /** Requests this agent already reported for the session (after a reconnect), counted against maxRequests. */
  alreadyReported?: number;
}

/**
 * (Sonde 0.4, only to agents that said `limits` in hello) Take at most `maxRequests` matching requests
 * for the session on this agent in all, counted as `progress` counts them (`requests + inFlight`, from
 * the session's start on this agent, `alreadyReported` not included). It only ever lowers the cap;
 * an agent already at it ends its part as at its cap (`ended` reason `requests`). Requests taken
 * before it arrived still finish and are reported.
 */
export interface LimitMessage {
  type: 'limit';
  session: string;
  maxRequests: number;
}

export interface StopMessage {
  type: 'stop';
  session: string;
  reason: SessionEndReason;
}

export interface OperatorErrorMessage {
  type: 'error';
  code: string;
  message: string;
}

/**
 * (Sonde 0.2) The batch `seq` of `session` is stored (or was a duplicate, or will never be taken): the
 * agent may forget it. With `retryAfterMs` it was not stored (the store failed): send it again then.
 */
export interface AckMessage {
  type: 'ack';
  session: string;
  seq: number;
  retryAfterMs?: number;
}

export type OperatorMessage = WelcomeMessage | StartMessage | StopMessage | OperatorErrorMessage | AckMessage | LimitMessage;
