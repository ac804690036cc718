import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { readVersion } from '../api/version.js';
import type { Clock } from '../clock.js';
import type { OperatorConfig } from '../config.js';
import { startOperatorTls, type OperatorTls } from '../tls/operator-tls.js';
import type { TlsMaterial } from '../tls/tls-material.js';
import { WEBHOOK_PATH } from './injection-names.js';
import type { InjectionSettings } from './pod-mutator.js';
import { startWebhookServer, type WebhookServer } from './webhook-server.js';

/**
 * What the composition root starts when TLS is configured: the operator's TLS (from the Secret or the
 * mounted directory, with the webhook configuration kept up to date) and, in a cluster, the admission
 * webhook's HTTPS server. main.ts gives the material to the main port and closes this on shutdown.
 */

export interface TlsRuntime {
  readonly tls: OperatorTls;
  /** The webhook server, in cluster mode. */
  readonly webhook?: WebhookServer;
  /** What injected pods are told (for tests and logs). */
  settings(): InjectionSettings;
  close(): Promise<void>;
}

export interface TlsRuntimeOptions {
  config: OperatorConfig;
  kubeConfig?: KubeConfig;
  /** The main port as it will listen (a resolved 0), for the default agent URL. */
  mainPort: number;
  clock: Clock;
  log: Logger;
}

/** The agents' default URL: the Service's in-cluster name on the main port. */
export function defaultAgentUrl(config: OperatorConfig, mainPort: number): string {
  return `wss://${config.serviceName}.${config.operatorNamespace ?? 'default'}.svc:${mainPort}/v1/agents`;
}

/** `--webhook-url` given as a bare origin gets the webhook's path. */
export function webhookEndpoint(url: string): string {
  const u = new URL(url);
  if (u.pathname === '/' || u.pathname === '') u.pathname = WEBHOOK_PATH;
  return u.toString();
}

/** Starts TLS, then (cluster mode) the webhook server. On failure, what started is stopped again. */
export async function startTlsRuntime(opts: TlsRuntimeOptions): Promise<TlsRuntime> {
  const { config } = opts;
  const cluster = config.mode === 'cluster';
  const tls = await startOperatorTls({
    source: config.tlsSecret !== undefined ? { kind: 'secret', secret: config.tlsSecret } : { kind: 'dir', dir: config.tlsCertDir! },
    ...(opts.kubeConfig ? { kubeConfig: opts.kubeConfig } : {}),
    operatorNamespace: config.operatorNamespace ?? 'default',
    serviceName: config.serviceName,
    ...(cluster ? { webhookConfig: config.webhookConfig } : {}),
    ...(cluster && config.webhookUrl ? { webhookUrl: webhookEndpoint(config.webhookUrl) } : {}),
    clock: opts.clock,
    log: opts.log,
  });
  const version = readVersion();
  const agentUrl = config.agentUrl ?? defaultAgentUrl(config, opts.mainPort);
  const settings = (): InjectionSettings => ({
    version,
    ...(config.agentImage ? { agentImage: config.agentImage } : {}),
    agentUrl,
    caCert: tls.current().ca,
    skipNamespaces: [...new Set([config.operatorNamespace ?? 'default', 'kube-system'])],
  });
  let webhook: WebhookServer | undefined;
  if (cluster) {
    try {
      webhook = await startWebhookServer({ port: config.webhookPort, host: config.host, tls: tls.current(), settings, log: opts.log });
    } catch (err) {
      tls.stop();
      throw err;
    }
    const w = webhook;
    tls.onChange((m: TlsMaterial) => w.setTls(m));
    if (!config.agentImage) opts.log.warn({ module: 'webhook' }, 'no --agent-image: pods asking for injection are annotated as skipped');
  }
  return {
    tls,
    ...(webhook ? { webhook } : {}),
    settings,
    async close() {
      tls.stop();
      await webhook?.close();
    },
  };
}
