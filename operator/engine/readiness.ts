import { CONDITION, type Condition } from '../../src/session/types.js';
import { selectorMatches } from '../../src/session/validate.js';
import type { AgentConnection } from '../hub/agent-connection.js';
import type { PodDirectory } from './contracts.js';
import { type Run, podRows } from './session-run.js';

const R = CONDITION.reasons;

/** The `Ready` condition a running session shows, from its pods' states (and, with none, why none). */
export function readinessOf(run: Run, why: () => { reason: string; message: string }): Pick<Condition, 'status' | 'reason' | 'message'> {
  // Pods, not processes: a pod with one sampling process is sampling.
  const all = podRows(run);
  const sampling = all.filter((p) => p.state === 'Sampling').length;
  const lost = all.filter((p) => p.state === 'Lost').length;
  if (sampling > 0) return { status: 'True', reason: R.Sampling, message: `${sampling} of ${all.length} pods sampling` };
  if (all.length > 0 && lost === all.length) return { status: 'False', reason: R.AgentsLost, message: `all ${lost} agents disconnected; waiting for them to reconnect until the deadline` };
  if (all.length > 0) {
    return { status: 'False', reason: lost ? R.AgentsLost : R.NoAgents, message: `no agent is sampling (${all.length - lost} done or failed, ${lost} lost); pods that match later join until the deadline` };
  }
  return { status: 'False', ...why() };
}

/**
 * Why no pod has joined: NoMatchingPods or NoAgents. With a directory that lists pods (the cluster's pod
 * informer) "no pod matches" differs from "pods match, none has an agent"; without one, pods are agents.
 */
export function whyNoPods(run: Run, pods: PodDirectory, agentsIn: (namespace: string) => Iterable<AgentConnection>): { reason: string; message: string } {
  const selector = run.resolved!.selector;
  const sel = JSON.stringify(selector);
  if (pods.podsIn) {
    const matching = pods.podsIn(run.namespace).filter((p) => selectorMatches(selector, pods.labelsOf(p) ?? {}));
    if (matching.length === 0) return { reason: R.NoMatchingPods, message: `no pod in namespace ${run.namespace} matches the selector ${sel}` };
    return { reason: R.NoAgents, message: `${matching.length} pods match but none has a connected agent (is the pod annotated for injection?)` };
  }
  const agents = [...agentsIn(run.namespace)];
  if (agents.length === 0) return { reason: R.NoAgents, message: `no agent is connected in namespace ${run.namespace}` };
  return { reason: R.NoMatchingPods, message: `none of the ${agents.length} agents in namespace ${run.namespace} matches the selector ${sel}` };
}
