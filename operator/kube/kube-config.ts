import { KubeConfig } from '@kubernetes/client-node';

/**
 * The cluster connection: a kubeconfig file when a path is given (`--kubeconfig`), else client-node's
 * default chain ($KUBECONFIG, ~/.kube/config, then the in-cluster ServiceAccount). The CLI's config
 * function decides the path; nothing here reads the environment itself.
 */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) throw new Error(path ? `kubeconfig ${path} has no current cluster` : 'no Kubernetes cluster configured (no kubeconfig and not in a pod)');
  return kc;
}
