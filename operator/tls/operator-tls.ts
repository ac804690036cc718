import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { every, type Clock } from '../clock.js';
import { patchCaBundle } from './ca-bundle.js';
import { readCertDir } from './cert-dir.js';
import { ensureSecretTls } from './secret-tls.js';
import { servingNames, type TlsMaterial } from './tls-material.js';
import { registerWebhook } from './webhook-registration.js';

/**
 * The operator's TLS for its lifetime: where the material comes from (`--tls-secret`, made and renewed
 * by the operator; or `--tls-cert-dir`, someone else's), who learns when it changes (the HTTPS servers
 * swap their secure context), and the webhook configuration's caBundle (patched, or with
 * `--webhook-url` the whole configuration registered). A failed caBundle patch does not stop the
 * operator (sessions work without injection); it is logged and retried on the next check.
 */

export type TlsSource = { kind: 'secret'; secret: string } | { kind: 'dir'; dir: string };

export interface OperatorTlsOptions {
  source: TlsSource;
  /** Needed for 'secret', and for the webhook configuration. */
  kubeConfig?: KubeConfig;
  operatorNamespace: string;
  serviceName: string;
  /** The MutatingWebhookConfiguration to keep the caBundle of (unset: none, e.g. standalone). */
  webhookConfig?: string;
  /** Register the configuration with this URL instead of patching only its caBundle. */
  webhookUrl?: string;
  clock: Clock;
  log: Logger;
  /** How often the material is checked again (default 12 h; a failed caBundle patch retries after 1 min). */
  checkEveryMs?: number;
}

/** The live TLS state. */
export interface OperatorTls {
  current(): TlsMaterial;
  /** Called with the new material whenever it changes (renewal, rotation by cert-manager). */
  onChange(listener: (m: TlsMaterial) => void): void;
  /** Checks once now (what the timer does). */
  check(): Promise<void>;
  stop(): void;
}

const codeOf = (err: unknown): number | undefined => (err as { code?: unknown })?.code as number | undefined;

/** Start-up waits out a briefly unavailable API server (5xx, network) with 0.5, 1, 2, 4 s; a refusal (4xx) is final. */
async function loadWithRetry(load: () => Promise<TlsMaterial>, clock: Clock, log: Logger): Promise<TlsMaterial> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await load();
    } catch (err) {
      const code = codeOf(err);
      if (code === 401 || code === 403) {
        throw new Error(`the operator may not use its TLS Secret (${code}): its ServiceAccount needs get, create and update on secrets in its namespace`, { cause: err });
      }
      if ((code !== undefined && code < 500) || attempt >= 5) throw err;
      const delay = 500 * 2 ** (attempt - 1);
      log.warn({ err, attempt, retryInMs: delay }, 'could not load the TLS material; retrying');
      await new Promise<void>((resolve) => clock.schedule(delay, resolve));
    }
  }
}

/** Loads or makes the material, brings the webhook configuration up to date, and keeps both so. */
export async function startOperatorTls(opts: OperatorTlsOptions): Promise<OperatorTls> {
  const log = opts.log.child({ module: 'tls' });
  const names = servingNames(opts.serviceName, opts.operatorNamespace);
  const load = async (): Promise<TlsMaterial> => {
    if (opts.source.kind === 'dir') return readCertDir(opts.source.dir);
    if (!opts.kubeConfig) throw new Error('--tls-secret needs a cluster connection');
    return ensureSecretTls({ kubeConfig: opts.kubeConfig, namespace: opts.operatorNamespace, name: opts.source.secret, names, now: () => opts.clock.now(), log });
  };
  // Files either are there or not; the API server may be briefly away.
  let material = opts.source.kind === 'dir' ? await load() : await loadWithRetry(load, opts.clock, log);
  /**
   * Where the webhook configuration stands: 'synced' (it trusts our CA, or someone else owns its
   * caBundle), 'missing' (not there yet), 'failed' (the last write failed). The last two are retried
   * every minute; a CA change sends 'synced' through `syncWebhook` again.
   */
  let webhookState: 'synced' | 'missing' | 'failed' = 'failed';
  const listeners: ((m: TlsMaterial) => void)[] = [];

  const syncWebhook = async (): Promise<void> => {
    if (!opts.kubeConfig || !opts.webhookConfig) {
      webhookState = 'synced';
      return;
    }
    try {
      if (opts.webhookUrl) {
        await registerWebhook({ kubeConfig: opts.kubeConfig, name: opts.webhookConfig, url: opts.webhookUrl, ca: material.ca, operatorNamespace: opts.operatorNamespace, log });
        webhookState = 'synced';
      } else if (opts.source.kind === 'secret') {
        // A configuration not there yet (installed after the operator started) is retried each minute.
        webhookState = (await patchCaBundle({ kubeConfig: opts.kubeConfig, name: opts.webhookConfig, ca: material.ca, log })) === 'missing' ? 'missing' : 'synced';
      } else {
        // With cert-manager, its CA injector owns the caBundle.
        webhookState = 'synced';
      }
    } catch (err) {
      webhookState = 'failed';
      log.error({ err }, 'could not update the webhook configuration; retrying in a minute (pods are not injected meanwhile)');
    }
  };
  await syncWebhook();

  let checking: Promise<void> | undefined;
  const check = (): Promise<void> =>
    (checking ??= (async () => {
      try {
        const next = await load();
        const changed = next.cert !== material.cert || next.ca !== material.ca || next.key !== material.key;
        const caChanged = next.ca !== material.ca;
        material = next;
        if (changed) {
          log.info({ caChanged }, 'TLS material changed; serving the new certificate');
          for (const l of listeners) l(material);
        }
        if (caChanged || webhookState !== 'synced') await syncWebhook();
      } catch (err) {
        log.error({ err }, 'checking the TLS material failed; keeping the current one');
      } finally {
        checking = undefined;
      }
    })());

  const stopSlow = every(opts.clock, opts.checkEveryMs ?? 12 * 60 * 60 * 1000, () => void check());
  const stopFast = every(opts.clock, 60_000, () => {
    if (webhookState !== 'synced') void check();
  });
  return {
    current: () => material,
    onChange: (l) => void listeners.push(l),
    check,
    stop: () => {
      stopSlow();
      stopFast();
    },
  };
}
