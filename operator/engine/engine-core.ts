import type { Logger } from 'pino';
import type { PodIdentity, SessionEndReason, StartMessage } from '../../src/protocol/messages.js';
import { CONDITION } from '../../src/session/types.js';
import type { Clock } from '../clock.js';
import type { AgentConnection } from '../hub/agent-connection.js';
import type { HubListener } from '../hub/agent-hub.js';
import type { SqliteStore } from '../store/sqlite-store.js';
import type { CatalogueQueue } from './catalogue-queue.js';
import type { PodDirectory } from './contracts.js';
import type { Run } from './session-run.js';
import type { StatusEmitter } from './status-emitter.js';

/** The part of the agent hub the engine uses (the AgentHub class has it; tests may pass their own). */
export interface EngineHub {
  setListener(listener: HubListener): void;
  agentsIn(namespace: string): Iterable<AgentConnection>;
  /** The connection of the pod's agent process `pid` (without `pid`: any of the pod's). */
  agentFor(pod: Pick<PodIdentity, 'namespace' | 'name'>, pid?: number): AgentConnection | undefined;
  /** (added with several processes per pod) The connections of every agent process of the pod. */
  agentsOf(pod: Pick<PodIdentity, 'namespace' | 'name'>): Iterable<AgentConnection>;
  start(agent: AgentConnection, message: StartMessage): boolean;
  stop(agent: AgentConnection, session: string, reason: SessionEndReason): boolean;
  /** (Sonde 0.4) Lowers the session's cap on the agent (only agents that said `limits` in hello); false when not sent. */
  limit?(agent: AgentConnection, session: string, maxRequests: number): boolean;
  forget(agent: AgentConnection, session: string): void;
  /** Takes a claim from hello: the connection may report on the session. */
  grant(agent: AgentConnection, session: string): void;
  /** Refuses a claim from hello: reports on the session are dropped. */
  refuse(agent: AgentConnection, session: string): void;
  /** Acknowledges a `requests` batch (to agents that asked for acks); `retryAfterMs` when it was not stored. */
  ack(agent: AgentConnection, session: string, seq: number, retryAfterMs?: number): boolean;
}

/** The part of the store the engine writes and reads. */
export type EngineStore = Pick<SqliteStore, 'saveSession' | 'getSession' | 'listSessions' | 'addRequests' | 'podCounts' | 'tree' | 'saveCatalogue' | 'deleteSession'>;

export interface EngineOptions {
  /** Least time between two status emissions of one session, except phase changes. Default 250 ms (≤ 4/s). */
  statusIntervalMs?: number;
  /** Least time between two recomputations of a running session's top hotspots. Default 2 s. */
  hotspotIntervalMs?: number;
  /** How long a finished session stays in memory to take late in-flight requests. Default 60 s. */
  lingerMs?: number;
  /** Catalogue snapshots are written to the store in batches at this interval. Default 5 s. */
  catalogueFlushMs?: number;
  /** After a restart, resume running sessions whose deadline is ahead (default). False ends them (OperatorRestarted). */
  resumeOnRestart?: boolean;
  /** A batch the store could not write is asked again after this long (`ack.retryAfterMs`). Default 1 s. */
  storeRetryMs?: number;
}

/**
 * What the engine's parts share: its dependencies and its memory. The Engine class (engine.ts) owns it
 * and hands it to the functions of each part (fan-out, agent reports, spec apply, session end,
 * recovery), so each concept sits in its own file while the state stays in one place.
 */
export interface EngineCore {
  readonly hub: EngineHub;
  readonly store: EngineStore;
  readonly pods: PodDirectory;
  readonly log: Logger;
  readonly clock: Clock;
  readonly opts: Required<EngineOptions>;
  /** Every session in memory: running ones, and ended ones during their linger. */
  readonly runs: Map<string, Run>;
  /** Sessions that take agents (Pending, Running) by namespace: the ones an arriving agent may join. */
  readonly active: Map<string, Set<Run>>;
  /** The linger timers of ended sessions. */
  readonly lingering: Map<string, () => void>;
  /** Sessions whose view went to the listeners since this engine started (see `Engine.apply`). */
  readonly handedOver: Set<string>;
  readonly status: StatusEmitter;
  readonly catalogue: CatalogueQueue;
}

export const R = CONDITION.reasons;
export const T = CONDITION.types;

/** Runs `fn`; an exception is the operator's bug, logged, and never stops the caller. */
export function safely(core: Pick<EngineCore, 'log'>, what: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    core.log.error({ err }, `${what} failed`);
  }
}

/** `namespace/name`, for logs. */
export function podName(pod: PodIdentity): string {
  return `${pod.namespace}/${pod.name}`;
}
