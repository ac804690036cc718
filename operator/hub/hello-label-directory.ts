import type { PodIdentity } from '../../src/protocol/messages.js';
import type { PodDirectory } from '../engine/contracts.js';
import type { AgentHub } from './agent-hub.js';

/**
 * Standalone mode's PodDirectory: a pod is whatever agent is connected under that name, and its labels
 * are the ones it announced in hello (`SONDE_LABELS`). In a cluster use the pod informer instead: there
 * an agent must not choose the labels that decide which sessions it joins.
 */
export class HelloLabelDirectory implements PodDirectory {
  constructor(private readonly hub: AgentHub) {}

  labelsOf(pod: PodIdentity): Record<string, string> | undefined {
    return this.hub.agentFor(pod)?.labels;
  }

  /** Fires when an agent connects or goes: the only moments its pod's labels can change here. */
  onChange(listener: (pod: PodIdentity) => void): () => void {
    return this.hub.onPresence((agent) => listener(agent.pod));
  }
}
