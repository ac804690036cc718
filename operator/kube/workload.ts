import { workloadFromPodName } from '../../src/session/workload.js';

/** The parts of a pod that name its workload (works on typed V1Pod and on raw watch JSON alike). */
export interface PodLike {
  metadata?: {
    name?: string;
    labels?: Record<string, string>;
    ownerReferences?: { kind?: string; name?: string; controller?: boolean }[];
  };
}

const CRONJOB_JOB = /^(.+)-\d{8,}$/;

/**
 * The workload a pod belongs to, as people name it: the Deployment for a ReplicaSet's pod (the
 * ReplicaSet name minus its pod-template-hash), the StatefulSet, DaemonSet or Job (the CronJob for a
 * scheduled Job), else the pod name minus the ReplicaSet hash and random suffix, else the pod name.
 * Used to group hotspots across sessions.
 */
export function workloadOf(pod: PodLike): string {
  const meta = pod.metadata ?? {};
  const name = meta.name ?? '';
  const owner = meta.ownerReferences?.find((o) => o.controller) ?? meta.ownerReferences?.[0];
  const hash = meta.labels?.['pod-template-hash'];
  if (owner?.name) {
    if (owner.kind === 'ReplicaSet') {
      if (hash && owner.name.endsWith(`-${hash}`)) return owner.name.slice(0, -hash.length - 1);
      return owner.name.replace(/-[bcdfghjklmnpqrstvwxz2456789]{5,10}$/, '');
    }
    if (owner.kind === 'Job') return CRONJOB_JOB.exec(owner.name)?.[1] ?? owner.name;
    return owner.name;
  }
  if (hash && name.includes(`-${hash}-`)) return name.slice(0, name.lastIndexOf(`-${hash}-`));
  return workloadFromPodName(name);
}
