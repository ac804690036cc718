import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, type OperatorConfig } from '../config.js';

/**
 * Before cluster mode starts: is there a cluster to talk to? Without this, client-node falls back to
 * http://localhost:8080 and the informers retry forever with "HTTP protocol is not allowed when
 * skipTLSVerify is not set". The order is client-node's: a kubeconfig named by --kubeconfig or
 * KUBECONFIG, else ~/.kube/config, else the in-cluster ServiceAccount.
 */
export interface ClusterConfigCheckOptions {
  /** The operator's command line, to say whether --kubeconfig or KUBECONFIG named a missing file. */
  argv: string[];
  env: NodeJS.ProcessEnv;
  /** The in-cluster ServiceAccount directory (tests point it elsewhere). */
  serviceAccountDir?: string;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Throws a ConfigError (exit 2) when cluster mode has no configuration to load; a no-op in standalone mode. */
export function checkClusterConfig(config: OperatorConfig, opts: ClusterConfigCheckOptions): void {
  if (config.mode !== 'cluster') return;
  if (config.kubeconfig) {
    if (existsSync(config.kubeconfig)) return;
    const named = opts.argv.some((a) => a === '--kubeconfig' || a.startsWith('--kubeconfig=')) ? '--kubeconfig' : 'KUBECONFIG';
    throw new ConfigError([`${named} names ${config.kubeconfig}, which does not exist`]);
  }
  const home = opts.env.HOME || homedir();
  if (existsSync(join(home, '.kube', 'config'))) return;
  const sa = opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  if (opts.env.KUBERNETES_SERVICE_HOST && existsSync(join(sa, 'token'))) return;
  throw new ConfigError([
    `no cluster configuration found: no --kubeconfig or KUBECONFIG, no ${join(home, '.kube', 'config')}, and not running in a pod.\n` +
      'To try Sonde without a cluster: `sonde operator --standalone` (agents match by SONDE_LABELS) or `sonde demo`.',
  ]);
}
