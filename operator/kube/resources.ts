import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, PLURAL, type ProfilingSessionSpec, type ProfilingSessionStatus } from '../../src/session/types.js';
import type { ListResult } from './informer.js';

/** A ProfilingSession as the API server returns it (plain JSON: custom objects are not deserialised). */
export interface ProfilingSessionObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
  };
  spec?: Partial<ProfilingSessionSpec> & Record<string, unknown>;
  status?: Partial<ProfilingSessionStatus> & { selector?: string };
}

/** The ProfilingSession collection: one namespace, or every namespace when undefined. */
export function sessionsPath(namespace?: string): string {
  return namespace ? `/apis/${API_GROUP}/${API_VERSION}/namespaces/${encodeURIComponent(namespace)}/${PLURAL}` : `/apis/${API_GROUP}/${API_VERSION}/${PLURAL}`;
}

export function listSessions(kc: KubeConfig, namespace?: string): () => Promise<ListResult<ProfilingSessionObject>> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const g = { group: API_GROUP, version: API_VERSION, plural: PLURAL };
  return () => (namespace ? api.listNamespacedCustomObject({ ...g, namespace }) : api.listClusterCustomObject(g)) as Promise<ListResult<ProfilingSessionObject>>;
}

/** The Pod collection: one namespace, or every namespace when undefined. */
export function podsPath(namespace?: string): string {
  return namespace ? `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods` : '/api/v1/pods';
}

/**
 * Lists pods. Note: the typed API deserialises (timestamps become Dates) while watch events are raw JSON;
 * the pod directory reads only names, uids, labels and owner references, which are the same in both.
 */
export function listPods(kc: KubeConfig, namespace?: string, labelSelector?: string, fieldSelector?: string): () => Promise<ListResult<V1Pod>> {
  const api = kc.makeApiClient(CoreV1Api);
  const sel = { ...(labelSelector ? { labelSelector } : {}), ...(fieldSelector ? { fieldSelector } : {}) };
  return () => (namespace ? api.listNamespacedPod({ namespace, ...sel }) : api.listPodForAllNamespaces(sel)) as Promise<ListResult<V1Pod>>;
}
