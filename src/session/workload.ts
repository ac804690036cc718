/**
 * Kubernetes' alphabet for generated name suffixes (no vowels, no 0/1/3, so no words): ReplicaSet
 * pod-template hashes and the random 5-character pod suffix are drawn from it.
 */
const SAFE = 'bcdfghjklmnpqrstvwxz2456789';
const REPLICASET_POD = new RegExp(`^(.+)-[${SAFE}]{5,10}-[${SAFE}]{5}$`);
const GENERATED_POD = new RegExp(`^(.+)-[${SAFE}]{5}$`);
const ORDINAL_POD = /^(.+)-\d+$/;

/**
 * A pod's workload from its name alone, for when no owner reference is known (standalone agents, pods
 * the informer has not seen): the `workload` label where one is set, else the name with generated
 * suffixes removed — `checkout-7d9f8b6c5-x2x9z` (Deployment) → `checkout`, `agent-x2x9z` (DaemonSet,
 * Job) → `agent`, `db-0` (StatefulSet) → `db`. In a cluster, operator/kube's `workloadOf` reads the
 * owner references first and falls back to this.
 */
export function workloadFromPodName(podName: string, labels: Record<string, string> = {}): string {
  if (labels.workload) return labels.workload;
  return REPLICASET_POD.exec(podName)?.[1] ?? GENERATED_POD.exec(podName)?.[1] ?? ORDINAL_POD.exec(podName)?.[1] ?? podName;
}
