import type { AgentConnection } from '../hub/agent-connection.js';
import { workloadFromPodName } from '../../src/session/workload.js';
import type { EngineCore } from './engine-core.js';
import { type PodEvent, podTransition } from './pod-part.js';
import type { PodRun, Run } from './session-run.js';
import { recountPart } from './taken-total.js';

/**
 * A process's part and the connection bound to it. One pod may hold several agent processes (pre-fork
 * workers, Node `cluster`, pm2): each has its own part in a session, keyed by the pod's name (in the
 * session's namespace) and the process's pid, with its own state, sequence numbers and counts. A
 * connection is heard only if it is the bound one. Changes go through `podTransition`.
 */

/** Pid of a part rebuilt after an operator restart: its process is not known until one of the pod's claims it. */
export const UNKNOWN_PID = -1;

/** A part's key in `run.pods`: pod name and pid. */
export function partKey(name: string, pid: number): string {
  return `${name}/${pid}`;
}

/** The process's own incarnation: its hello `instance` (Sonde 0.3), else its pid. */
export function incarnationOf(agent: AgentConnection): string {
  return agent.agent.instance ?? `pid:${agent.agent.pid}`;
}

/** The part of the agent's process in `run`, if its pod is in the session's namespace and the process took part. */
export function partOf(core: EngineCore, run: Run, agent: AgentConnection): PodRun | undefined {
  if (agent.pod.namespace !== run.namespace) return undefined;
  return run.pods.get(partKey(agent.pod.name, agent.agent.pid));
}

/** Every part of the pod `name` in `run` (one per agent process). */
export function partsOfPod(run: Run, name: string): PodRun[] {
  return [...run.pods.values()].filter((p) => p.name === name);
}

/** Whether the agent's pod (any of its processes) took part in `run`. */
export function podTookPart(run: Run, agent: AgentConnection): boolean {
  return agent.pod.namespace === run.namespace && partsOfPod(run, agent.pod.name).length > 0;
}

/**
 * The process's part, or else the pod's part rebuilt after a restart (pid unknown), which this process
 * now takes as its own (re-keyed by its pid). Called where a connection is being bound, never to hear one.
 */
export function claimablePart(core: EngineCore, run: Run, agent: AgentConnection): PodRun | undefined {
  const own = partOf(core, run, agent);
  if (own || agent.pod.namespace !== run.namespace) return own;
  const recovered = run.pods.get(partKey(agent.pod.name, UNKNOWN_PID));
  if (!recovered) return undefined;
  run.pods.delete(partKey(agent.pod.name, UNKNOWN_PID));
  recovered.pid = agent.agent.pid;
  run.pods.set(partKey(recovered.name, recovered.pid), recovered);
  return recovered;
}

/**
 * Requests a process has taken: stored, or more if its progress says so — but only while a connection
 * is bound to it: a lost process's taken-but-undelivered requests may never arrive (it may be dead, and
 * another process of the pod take its place); if it comes back, its count counts again.
 */
export function takenBy(p: PodRun): number {
  return p.conn !== undefined ? Math.max(p.requests, p.claimed ?? 0) : p.requests;
}

/** Requests the pod has taken across its processes: its per-pod cap counts this. */
export function podTaken(run: Run, name: string): number {
  return partsOfPod(run, name).reduce((s, p) => s + takenBy(p), 0);
}

/** Requests stored for the pod across its processes. */
export function podStored(run: Run, name: string): number {
  return partsOfPod(run, name).reduce((s, p) => s + p.requests, 0);
}

/** The pod's part if `agent` is the connection bound to it: the only one whose reports are taken. */
export function boundPart(core: EngineCore, run: Run, agent: AgentConnection): PodRun | undefined {
  const pr = partOf(core, run, agent);
  return pr && pr.conn === agent.id ? pr : undefined;
}

/** Applies a pod event to the part; its share of the run's running total follows its new binding. */
export function podEvent(core: EngineCore, run: Run, pr: PodRun, event: PodEvent): void {
  const next = podTransition(pr, event);
  if (next === pr) return recountPart(run, pr);
  pr.state = next.state;
  pr.conn = next.conn;
  if (next.message === undefined) delete pr.message;
  else pr.message = next.message;
  recountPart(run, pr);
}

/**
 * Records the process incarnation of the connection now bound to the part. A new incarnation (another
 * `instance`, or another pid) numbers its batches from 1 again, and its taken count starts afresh.
 */
export function bind(core: EngineCore, pr: PodRun, agent: AgentConnection): void {
  const incarnation = incarnationOf(agent);
  if (pr.incarnation !== incarnation) {
    pr.incarnation = incarnation;
    pr.lastSeq = 0;
    pr.claimed = 0;
  }
  pr.pid = agent.agent.pid;
  pr.uid = agent.pod.uid;
  delete pr.capStopped;
}

/** The open connection bound to a process's part, if it is still open. */
export function connectionOf(core: EngineCore, run: Run, pr: PodRun): AgentConnection | undefined {
  if (!pr.conn) return undefined;
  const agent = core.hub.agentFor({ namespace: run.namespace, name: pr.name }, pr.pid);
  return agent && agent.id === pr.conn ? agent : undefined;
}

/** The pod's workload: the directory's (owner) where it knows, else from the pod name or `workload` label. */
export function workloadOf(core: EngineCore, agent: AgentConnection): string {
  return core.pods.workloadFor?.(agent.pod) ?? workloadFromPodName(agent.pod.name, core.pods.labelsOf(agent.pod) ?? agent.labels);
}
