import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { SessionEngine } from '../engine/contracts.js';
import type { BackoffPolicy } from './backoff.js';
import { EventRecorder } from './event-recorder.js';
import { KubeInformer } from './informer.js';
import { KubePodDirectory } from './pod-directory.js';
import { listPods, listSessions, podsPath, sessionsPath, type ProfilingSessionObject } from './resources.js';
import { startSessionController, type SessionController } from './session-controller.js';
import { startStatusWriter, type StatusWriter } from './status-writer.js';
import { TokenReviewAuthenticator } from './token-review-authenticator.js';

export { loadKubeConfig } from './kube-config.js';

/** Everything cluster mode needs, decided once by the CLI's config. */
export interface ClusterModeOptions {
  /** From `loadKubeConfig(path?)`. */
  kubeConfig: KubeConfig;
  log: Logger;
  /** Watch sessions and pods of this namespace only (namespaced RBAC); undefined: cluster-wide. */
  namespace?: string;
  /** Narrows the pod informer, e.g. to the label the injecting webhook puts on pods with an agent. */
  podLabelSelector?: string;
  /** Audience of agents' projected tokens (default `sonde`). */
  audience?: string;
  /** Events' reportingInstance: the operator pod's name, when known. */
  instance?: string;
  clock?: Clock;
  /** Watch/list retry backoff (default 0.5 s doubling to 30 s, with jitter). */
  backoff?: BackoffPolicy;
  /** Server-side watch timeout (default 300 s). */
  watchTimeoutSeconds?: number;
}

/** Cluster mode's parts and lifecycle. */
export interface ClusterMode {
  /** For the engine: pod labels from the pod informer (started by createClusterMode). */
  readonly podDirectory: KubePodDirectory;
  /** For the agent hub: TokenReview-based agent authentication. */
  readonly authenticator: TokenReviewAuthenticator;
  /** Resolves when the pod informer has its first list (the engine can resolve selectors). */
  readonly podsSynced: Promise<void>;
  /** Starts the ProfilingSession informer, the reconcile queue and the status writer. Call once. */
  startSessionController(engine: SessionEngine): void;
  /** For /readyz: both informers synced and the controller started (and its orphan sweep done). */
  ready(): boolean;
  /** Stops the controller, the status writer and both informers. */
  stop(): Promise<void>;
}

/**
 * Cluster mode in two steps, because the engine needs the pod directory and the authenticator before
 * it exists and the controller needs the engine:
 *
 *   const cluster = createClusterMode({ kubeConfig: loadKubeConfig(cfg.kubeconfig), namespace, log });
 *   const engine = new Engine({ podDirectory: cluster.podDirectory, ... });   // hub gets cluster.authenticator
 *   cluster.startSessionController(engine);
 *   // /readyz → cluster.ready();  shutdown → await cluster.stop()
 */
export function createClusterMode(opts: ClusterModeOptions): ClusterMode {
  const log = opts.log.child({ module: 'kube', namespace: opts.namespace ?? '(all)' });
  const common = { kubeConfig: opts.kubeConfig, log, ...(opts.clock ? { clock: opts.clock } : {}), ...(opts.backoff ? { backoff: opts.backoff } : {}), ...(opts.watchTimeoutSeconds ? { watchTimeoutSeconds: opts.watchTimeoutSeconds } : {}) };
  const pods = new KubeInformer<V1Pod>({
    ...common,
    name: 'pods',
    path: podsPath(opts.namespace),
    list: listPods(opts.kubeConfig, opts.namespace, opts.podLabelSelector),
    ...(opts.podLabelSelector ? { labelSelector: opts.podLabelSelector } : {}),
  });
  pods.start();
  const podDirectory = new KubePodDirectory(pods);
  const authenticator = new TokenReviewAuthenticator({ kubeConfig: opts.kubeConfig, log, ...(opts.clock ? { clock: opts.clock } : {}), ...(opts.audience ? { audience: opts.audience } : {}) });

  let sessions: KubeInformer<ProfilingSessionObject> | undefined;
  let controller: SessionController | undefined;
  let writer: StatusWriter | undefined;

  return {
    podDirectory,
    authenticator,
    podsSynced: pods.synced,
    startSessionController(engine) {
      if (sessions) throw new Error('startSessionController was already called');
      sessions = new KubeInformer<ProfilingSessionObject>({ ...common, name: 'profilingsessions', path: sessionsPath(opts.namespace), list: listSessions(opts.kubeConfig, opts.namespace) });
      const events = new EventRecorder({ kubeConfig: opts.kubeConfig, log, ...(opts.clock ? { clock: opts.clock } : {}), ...(opts.instance ? { instance: opts.instance } : {}) });
      // The writer subscribes before the controller applies anything, so no first status is missed.
      writer = startStatusWriter(engine, { kubeConfig: opts.kubeConfig, informer: sessions, events, log, ...(opts.clock ? { clock: opts.clock } : {}) });
      controller = startSessionController(engine, { informer: sessions, log, ...(opts.clock ? { clock: opts.clock } : {}), ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}) });
    },
    ready: () => pods.hasSynced() && !!controller?.ready(),
    async stop() {
      await controller?.stop();
      await writer?.stop();
      await Promise.all([sessions?.stop(), pods.stop()]);
    },
  };
}
