import { AdmissionregistrationV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import type { Logger } from 'pino';

/**
 * Puts the operator's CA into the `caBundle` of its MutatingWebhookConfiguration (`--webhook-config`),
 * so the API server trusts the webhook's certificate. A JSON Patch per webhook, each guarded by a
 * `test` of the webhook's name at that index, so a configuration edited meanwhile fails the patch
 * instead of receiving the bundle in the wrong place; the caller retries.
 */

const codeOf = (err: unknown): number | undefined => (err as { code?: unknown })?.code as number | undefined;

export interface CaBundleOptions {
  kubeConfig: KubeConfig;
  /** The MutatingWebhookConfiguration's name. */
  name: string;
  /** The CA (PEM). */
  ca: string;
  log: Logger;
}

/** Whether the configuration now carries the CA: 'patched', 'unchanged', or 'missing' (no such configuration). */
export async function patchCaBundle(opts: CaBundleOptions): Promise<'patched' | 'unchanged' | 'missing'> {
  const api = opts.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  const log = opts.log.child({ module: 'tls', webhookConfig: opts.name });
  const bundle = Buffer.from(opts.ca, 'utf8').toString('base64');
  for (let attempt = 1; attempt <= 5; attempt++) {
    let config: V1MutatingWebhookConfiguration;
    try {
      config = await api.readMutatingWebhookConfiguration({ name: opts.name });
    } catch (err) {
      if (codeOf(err) === 404) {
        log.warn('no MutatingWebhookConfiguration of that name: pods will not be injected until it exists (is the chart installed? see --webhook-config)');
        return 'missing';
      }
      throw err;
    }
    const ops = (config.webhooks ?? []).flatMap((w, i) =>
      w.clientConfig?.caBundle === bundle
        ? []
        : [
            { op: 'test', path: `/webhooks/${i}/name`, value: w.name },
            { op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: bundle },
          ],
    );
    if (ops.length === 0) return 'unchanged';
    try {
      await api.patchMutatingWebhookConfiguration({ name: opts.name, body: ops }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch));
      log.info({ webhooks: ops.length / 2 }, 'patched the caBundle of the webhook configuration');
      return 'patched';
    } catch (err) {
      // 422 from a failed `test`, or 409: the configuration changed under us; read it again.
      if (codeOf(err) === 422 || codeOf(err) === 409) continue;
      throw err;
    }
  }
  throw new Error(`the MutatingWebhookConfiguration ${opts.name} kept changing while its caBundle was patched`);
}
