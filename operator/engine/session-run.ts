import type { ResolvedSpec } from '../../src/session/validate.js';
import type { Condition, Hotspot, PodSessionState, PodStatus, ProfilingSessionSpec, SessionIdentity, SessionView } from '../../src/session/types.js';
import type { PodPart } from './pod-part.js';
import { type Life, isOver, phaseOf } from './session-life.js';

/**
 * What the engine knows of one agent process of one pod within one session. The session lives in one
 * namespace, so the part is keyed by that namespace (the run's), the pod's name and the process's pid
 * (bound-parts.ts `partKey`); `uid` is the pod incarnation the engine met, `incarnation` the process's.
 * The status shows one row per pod, summing its processes (`podRows`).
 */
export interface PodRun extends PodPart {
  name: string;
  /** The pod's uid as its authenticated connection proved it ('' when unknown: standalone, or after a restart). */
  uid: string;
  /** The agent process of the part (-1 when rebuilt after a restart until a process of the pod claims it). */
  pid: number;
  /** The process incarnation sequence numbers count for: hello `agent.instance`, else `pid:<pid>`; '' unknown. */
  incarnation: string;
  /**
   * Every batch of `pid` up to this `requests.seq` is stored: a batch at or below it is a resend. It
   * moves only over batches the store wrote, one by one, so a batch the store refused is taken when resent.
   */
  lastSeq: number;
  /** Requests stored for this pod (the store's count, not the agent's). */
  requests: number;
  /**
   * Matching requests the agent process has finished and taken, from its `progress` (requests +
   * inFlight). Agents send records only at their next collect, seconds later at coarse intervals; the
   * taken count arrives within one progress tick, so stopping on it keeps the overshoot of N small.
   */
  claimed?: number;
  /** `stop` went to this process because its pod took its cap across processes (sent once). */
  capStopped?: boolean;
  /** What this part adds to `Run.taken` now (taken-total.ts): its `takenBy` when last counted. */
  counted?: number;
  /**
   * The cap the agent process runs the session under, in its own count (`progress` requests +
   * inFlight): `start.maxRequests − alreadyReported`, then each `limit` sent (credit.ts).
   */
  cap?: number;
  samples: number;
  message?: string;
}

/**
 * One session in the engine's memory: the desired state it was given, what it has observed, and the
 * bookkeeping of throttled status emission. Running sessions live here until they end and linger a
 * little longer (late in-flight requests); the store holds everything else.
 */
export interface Run extends SessionIdentity {
  /** The spec in effect (with defaults), as the view shows it. For an invalid spec: what the user wrote. */
  spec: ProfilingSessionSpec;
  /** Undefined when the spec is invalid. */
  resolved: ResolvedSpec | undefined;
  /** Epoch ms when the session ends whatever the count: createdAt + duration. */
  deadline: number;
  /** The lifecycle state (session-life.ts); the view shows `phaseOf(life)`. */
  life: Life;
  conditions: Condition[];
  observedGeneration: number;
  startedAt?: string;
  completedAt?: string;
  /** One part per agent process, keyed by `partKey(pod name, pid)`. */
  pods: Map<string, PodRun>;
  /** Requests stored across all pods. */
  count: number;
  /**
   * Requests taken across all parts (stored, or more where a bound agent's progress says so): the
   * running total that stops the agents at N, kept by taken-total.ts on every report.
   */
  taken: number;
  /** What was missing to N when the caps were last lowered (credit.ts); undefined before the first round. */
  capsLeft?: number;
  hotspots: Hotspot[];
  /** The interval the stored samples stand for (status.sampleInterval), recomputed with the hotspots. */
  sampleInterval?: string;
  hotspotsStale: boolean;
  hotspotsAt: number;
  cancelDeadline?: () => void;
  /** Throttling of status emission. */
  lastEmit: number;
  cancelEmit?: () => void;
}

/** The session is over (or waits for a fixed spec): see session-life.ts. */
export function isTerminal(run: Pick<Run, 'life'>): boolean {
  return isOver(run.life);
}

/** N and the per-pod cap that `start` carries. */
export function perPodLimit(spec: ResolvedSpec): number {
  return Math.min(spec.maxRequestsPerPod ?? spec.requests, spec.requests);
}

/**
 * Sets a condition. `lastTransitionTime` moves only when the condition's status changes (the Kubernetes
 * convention), so a reason or message update does not look like a transition.
 */
export function setCondition(run: Run, type: string, status: Condition['status'], reason: string, message: string, now: number): void {
  const existing = run.conditions.find((c) => c.type === type);
  const at = new Date(now).toISOString();
  if (!existing) {
    run.conditions.push({ type, status, reason, message, lastTransitionTime: at, observedGeneration: run.observedGeneration });
    return;
  }
  if (existing.status !== status) existing.lastTransitionTime = at;
  existing.status = status;
  existing.reason = reason;
  existing.message = message;
  existing.observedGeneration = run.observedGeneration;
}

export function conditionOf(run: Run, type: string): Condition | undefined {
  return run.conditions.find((c) => c.type === type);
}

/** The SessionView of a run: what the store persists, onStatus emits and the API shows. */
export function viewOf(run: Run, baseURL: string): SessionView {
  const target = run.resolved?.requests ?? run.spec.requests ?? 0;
  const pods = podRows(run);
  const view: SessionView = {
    id: run.id,
    name: run.name,
    namespace: run.namespace,
    source: run.source,
    createdAt: run.createdAt,
    generation: run.generation,
    spec: structuredClone(run.spec),
    status: {
      phase: phaseOf(run.life),
      conditions: run.conditions.map((c) => ({ ...c })),
      requestsProfiled: run.count,
      progress: `${run.count}/${target}`,
      pods,
      hotspots: run.hotspots.map((h) => ({ ...h })),
      resultURL: `${baseURL.replace(/\/+$/, '')}/#/sessions/${encodeURIComponent(run.id)}`,
      observedGeneration: run.observedGeneration,
    },
  };
  if (run.sampleInterval) view.status.sampleInterval = run.sampleInterval;
  if (run.startedAt) view.status.startedAt = run.startedAt;
  if (run.completedAt) view.status.completedAt = run.completedAt;
  return view;
}

/** How a pod's row shows its processes' states: the liveliest wins (one sampling process makes the pod Sampling). */
const STATE_RANK: PodSessionState[] = ['Sampling', 'Pending', 'Lost', 'Done', 'Failed'];

/**
 * One status row per pod, summing its processes' parts: requests and samples added, the state the
 * liveliest of theirs, `processes` when more than one agent process took part.
 */
export function podRows(run: Pick<Run, 'pods'>): PodStatus[] {
  const byPod = new Map<string, PodRun[]>();
  for (const p of run.pods.values()) {
    const list = byPod.get(p.name);
    if (list) list.push(p);
    else byPod.set(p.name, [p]);
  }
  const rows: PodStatus[] = [];
  for (const [name, parts] of byPod) {
    const state = STATE_RANK.find((s) => parts.some((p) => p.state === s)) ?? parts[0]!.state;
    const message = parts.find((p) => p.state === state && p.message)?.message;
    rows.push({
      name,
      requests: parts.reduce((s, p) => s + p.requests, 0),
      samples: parts.reduce((s, p) => s + p.samples, 0),
      state,
      ...(message ? { message } : {}),
      ...(parts.length > 1 ? { processes: parts.length } : {}),
    });
  }
  return rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The spec as the view shows it: the resolved one without the engine's millisecond fields. */
export function displaySpec(spec: ResolvedSpec): ProfilingSessionSpec {
  const { durationMs: _d, sampleIntervalMs: _s, ...shown } = spec;
  return shown;
}

/** Two resolved specs ask for the same thing (key order and defaults aside). */
export function sameSpec(a: ResolvedSpec, b: ResolvedSpec): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : 1))) : v,
  );
}
