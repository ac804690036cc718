import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type OperatorConfig, authMode } from '../config.js';
import { TokenReviewClient } from '../kube/token-review-client.js';
import { type AccessResolver, noAuth, sharedTokenAuth } from './access-resolver.js';
import { KubernetesAccess } from './kubernetes-access.js';
import { AccessReviewClient } from './subject-access-review.js';

/** The resolver for the main port's `--auth` mode (the config validator has already refused what cannot run). */
export function buildAccessResolver(config: OperatorConfig, parts: { kubeConfig?: KubeConfig; log: Logger; knownNamespaces: () => Iterable<string> }): AccessResolver {
  const mode = authMode(config);
  if (mode === 'none') return noAuth(config.mode === 'standalone');
  if (mode === 'token') return sharedTokenAuth(config.token!);
  if (!parts.kubeConfig) throw new Error('--auth kubernetes needs the cluster connection');
  const log = parts.log.child({ module: 'api-auth' });
  return new KubernetesAccess({
    // People's tokens are reviewed for the API server's own audience, as kubectl's are.
    tokens: new TokenReviewClient({ kubeConfig: parts.kubeConfig, log, cacheTtlMs: 30_000 }),
    reviews: new AccessReviewClient({ kubeConfig: parts.kubeConfig, log }),
    knownNamespaces: parts.knownNamespaces,
    ...(config.namespace ? { namespace: config.namespace } : {}),
    log,
  });
}
