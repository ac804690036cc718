/**
 * A pod's workload: the `workload` label where the agent set one (standalone), else the pod name with
 * the generated suffixes removed — `checkout-7d9f8b6c5-x2x9z` (Deployment) → `checkout`,
 * `agent-x2x9z` (DaemonSet, Job) → `agent`, `db-0` (StatefulSet) → `db`.
 */
export function workloadOf(podName: string, labels: Record<string, string> = {}): string {
  const label = labels.workload;
  if (label) return label;
  const deployment = /^(.+)-[a-z0-9]{6,10}-[a-z0-9]{5}$/.exec(podName);
  if (deployment) return deployment[1]!;
  const generated = /^(.+)-[a-z0-9]{5}$/.exec(podName);
  if (generated && /\d/.test(podName.slice(-5))) return generated[1]!;
  const ordinal = /^(.+)-\d+$/.exec(podName);
  if (ordinal) return ordinal[1]!;
  return podName;
}
