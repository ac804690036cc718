import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';

/**
 * A kubeconfig that points client-node (or kubectl) at the fake: plain http needs
 * `insecure-skip-tls-verify`, or client-node refuses the URL; the user is a bearer token.
 */
export function kubeconfigYaml(server: { url: string; token: string }, namespace = 'default'): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'fake', cluster: { server: server.url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'fake-admin', user: { token: server.token } }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake-admin', namespace } }],
    'current-context': 'fake',
  });
}

/** Writes the kubeconfig into `dir` (for child processes: `KUBECONFIG=<path>`) and returns its path. */
export function writeKubeconfig(dir: string, server: { url: string; token: string }, namespace?: string): string {
  const path = join(dir, 'kubeconfig.yaml');
  writeFileSync(path, kubeconfigYaml(server, namespace), { mode: 0o600 });
  return path;
}

/** An in-process KubeConfig for the fake, without touching the file system. */
export function fakeKubeConfig(server: { url: string; token: string }, namespace?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigYaml(server, namespace));
  return kc;
}
