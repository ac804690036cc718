import type { PodIdentity } from '../../src/protocol/messages.js';
import type { SessionIdentity, SessionView } from '../../src/session/types.js';

/**
 * The seams of the operator. The session engine knows nothing of where sessions come from (a
 * Kubernetes informer, the REST API, YAML files) nor of how agents prove who they are: cluster mode
 * and standalone mode plug different implementations of these interfaces into the same engine.
 */

/** Desired state of one session, from any source. */
export interface SessionInput extends SessionIdentity {
  /** As the user wrote it: the engine validates it and reports problems in the status. */
  spec: unknown;
}

/** Runs sessions: resolves pods, starts and stops agents, counts requests, stores results, reports status. */
export interface SessionEngine {
  /** Creates or updates a session. Idempotent: applying the same input twice changes nothing. */
  apply(input: SessionInput): SessionView;
  /** The source deleted the session: stop its agents; its results stay in the store under retention. */
  remove(id: string): void;
  get(id: string): SessionView | undefined;
  list(): SessionView[];
  /** Called whenever a session's observed status changes (throttled by the engine). */
  onStatus(listener: (view: SessionView) => void): () => void;
}

/**
 * Where a pod's labels come from. In a cluster: the pod informer (the pod's real labels; an agent cannot
 * choose them). Standalone: the labels the agent announced in hello (`SONDE_LABELS`).
 */
export interface PodDirectory {
  labelsOf(pod: PodIdentity): Record<string, string> | undefined;
  /** Called when pods appear, change labels or go away, so running sessions can pick up new pods. */
  onChange(listener: (pod: PodIdentity) => void): () => void;
  /**
   * Optional (added with the engine): the pods of a namespace, so a session with no agent can tell
   * "no pod matches the selector" (NoMatchingPods) from "pods match but none has an agent" (NoAgents).
   * Without it the engine judges from connected agents only.
   */
  podsIn?(namespace: string): PodIdentity[];
  /**
   * Optional (added with the engine): the pod's workload (its owner's name) for grouping hotspots.
   * Without it the engine derives one from the pod name or a `workload` label.
   */
  workloadFor?(pod: PodIdentity): string | undefined;
}

export type AuthResult =
  /** `expiresAt` (epoch ms): the credential's end; the hub closes the connection then (apiauth). */
  | { ok: true; pod: PodIdentity; expiresAt?: number }
  | { ok: false; code: 'SONDE_UNAUTHENTICATED' | 'SONDE_FORGED_IDENTITY'; message: string };

/**
 * Checks an agent's credentials at connect time and binds the connection to one pod. In a cluster: a
 * TokenReview of the projected ServiceAccount token (audience `sonde`), whose pod claims must equal the
 * pod the agent claims. Standalone: a shared token, and the claimed identity is taken as given.
 */
export interface AgentAuthenticator {
  authenticate(token: string | undefined, claimed: PodIdentity): Promise<AuthResult>;
  /**
   * Optional (added with the hub's limits): a cheap synchronous look at the token at the HTTP upgrade,
   * before any WebSocket exists. False refuses the upgrade with 401; true only means "worth a hello".
   */
  precheck?(token: string | undefined): boolean;
}
