import type { V1Pod } from '@kubernetes/client-node';
import type { PodIdentity } from '../../src/protocol/messages.js';
import type { PodDirectory } from '../engine/contracts.js';
import type { KubeInformer } from './informer.js';
import { workloadOf } from './workload.js';

const sameLabels = (a: Record<string, string> = {}, b: Record<string, string> = {}): boolean => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
};

const identityOf = (pod: V1Pod): PodIdentity => ({ name: pod.metadata?.name ?? '', namespace: pod.metadata?.namespace ?? '', uid: pod.metadata?.uid ?? '' });

/**
 * Pod labels as the cluster knows them (the pod informer's cache), so a session selects on labels an
 * agent cannot choose. A claimed uid that differs from the cached pod's (a pod recreated under the
 * same name) finds nothing.
 */
export class KubePodDirectory implements PodDirectory {
  constructor(private readonly informer: KubeInformer<V1Pod>) {}

  private find(pod: Pick<PodIdentity, 'name' | 'namespace' | 'uid'>): V1Pod | undefined {
    const found = this.informer.get(pod.namespace, pod.name);
    if (!found || (pod.uid && found.metadata?.uid && found.metadata.uid !== pod.uid)) return undefined;
    return found;
  }

  labelsOf(pod: PodIdentity): Record<string, string> | undefined {
    const found = this.find(pod);
    return found ? { ...(found.metadata?.labels ?? {}) } : undefined;
  }

  /** The pod's workload (Deployment, StatefulSet, … name), for grouping hotspots. */
  workloadFor(pod: PodIdentity): string | undefined {
    const found = this.find(pod);
    return found ? workloadOf(found) : undefined;
  }

  /** Notified when a pod appears, goes away, or changes labels (other updates are noise to sessions). */
  onChange(listener: (pod: PodIdentity) => void): () => void {
    const offs = [
      this.informer.on('add', (pod) => listener(identityOf(pod))),
      this.informer.on('delete', (pod) => listener(identityOf(pod))),
      this.informer.on('update', (pod, old) => {
        if (!sameLabels(pod.metadata?.labels, old.metadata?.labels) || pod.metadata?.uid !== old.metadata?.uid) listener(identityOf(pod));
      }),
    ];
    return () => offs.forEach((off) => off());
  }
}
