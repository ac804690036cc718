import type { AgentConnection } from '../hub/agent-connection.js';
import { workloadFromPodName } from '../../src/session/workload.js';
import type { EngineCore } from './engine-core.js';
import { type PodEvent, podTransition } from './pod-part.js';
import type { PodRun, Run } from './session-run.js';

/**
 * A pod's part and the connection bound to it: the part is found by the session's namespace and the
 * pod's name, and a connection is heard only if it is the bound one. Changes go through `podTransition`.
 */

/** The pod's part in `run`, if the agent's pod is in the session's namespace and took part. */
export function partOf(core: EngineCore, run: Run, agent: AgentConnection): PodRun | undefined {
  if (agent.pod.namespace !== run.namespace) return undefined;
  return run.pods.get(agent.pod.name);
}

/** The pod's part if `agent` is the connection bound to it: the only one whose reports are taken. */
export function boundPart(core: EngineCore, run: Run, agent: AgentConnection): PodRun | undefined {
  const pr = partOf(core, run, agent);
  return pr && pr.conn === agent.id ? pr : undefined;
}

export function podEvent(core: EngineCore, pr: PodRun, event: PodEvent): void {
  const next = podTransition(pr, event);
  if (next === pr) return;
  pr.state = next.state;
  pr.conn = next.conn;
  if (next.message === undefined) delete pr.message;
  else pr.message = next.message;
}

/** Records the process and incarnation of the connection now bound to the part. */
export function bind(core: EngineCore, pr: PodRun, agent: AgentConnection): void {
  if (pr.pid !== agent.agent.pid) {
    pr.pid = agent.agent.pid;
    pr.lastSeq = 0;
  }
  pr.uid = agent.pod.uid;
}

/** The open connection bound to a pod's part, if it is still open. */
export function connectionOf(core: EngineCore, run: Run, pr: PodRun): AgentConnection | undefined {
  if (!pr.conn) return undefined;
  const agent = core.hub.agentFor({ namespace: run.namespace, name: pr.name });
  return agent && agent.id === pr.conn ? agent : undefined;
}

/** The pod's workload: the directory's (owner) where it knows, else from the pod name or `workload` label. */
export function workloadOf(core: EngineCore, agent: AgentConnection): string {
  return core.pods.workloadFor?.(agent.pod) ?? workloadFromPodName(agent.pod.name, core.pods.labelsOf(agent.pod) ?? agent.labels);
}
