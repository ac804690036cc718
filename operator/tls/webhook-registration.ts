import { AdmissionregistrationV1Api, type KubeConfig, type V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { NAMESPACE_LABEL } from '../webhook/injection-names.js';

/**
 * `--webhook-url`: an operator running outside the cluster (development, end-to-end tests) registers
 * its own MutatingWebhookConfiguration pointing at that URL, with the same safety settings the chart
 * uses: fail open, no side effects, a short timeout, reinvocation, and only opted-in namespaces.
 */

const codeOf = (err: unknown): number | undefined => (err as { code?: unknown })?.code as number | undefined;

export interface RegistrationOptions {
  kubeConfig: KubeConfig;
  name: string;
  url: string;
  ca: string;
  operatorNamespace: string;
  log: Logger;
}

/** The configuration as the operator wants it (pure; the chart renders the same with a service). */
export function webhookConfiguration(name: string, url: string, ca: string, operatorNamespace: string): V1MutatingWebhookConfiguration {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'sonde' } },
    webhooks: [
      {
        name: 'inject.sonde.dev',
        clientConfig: { url, caBundle: Buffer.from(ca, 'utf8').toString('base64') },
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
        // Sonde must never stop a pod from starting: an unreachable or failing webhook means "allow".
        failurePolicy: 'Ignore',
        sideEffects: 'None',
        timeoutSeconds: 5,
        admissionReviewVersions: ['v1'],
        reinvocationPolicy: 'IfNeeded',
        matchPolicy: 'Equivalent',
        namespaceSelector: {
          matchExpressions: [
            { key: NAMESPACE_LABEL, operator: 'In', values: ['enabled'] },
            { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...new Set([operatorNamespace, 'kube-system'])] },
          ],
        },
      },
    ],
  };
}

/** JSON with sorted keys: the client's deserialised objects and ours differ in key order only. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value) ? Object.fromEntries(Object.entries(value).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : 1))) : value,
  );
}

/** Creates the configuration, or replaces an existing one's webhooks with ours. */
export async function registerWebhook(opts: RegistrationOptions): Promise<'created' | 'updated' | 'unchanged'> {
  const api = opts.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  const log = opts.log.child({ module: 'tls', webhookConfig: opts.name });
  const desired = webhookConfiguration(opts.name, opts.url, opts.ca, opts.operatorNamespace);
  for (let attempt = 1; attempt <= 5; attempt++) {
    let current: V1MutatingWebhookConfiguration | undefined;
    try {
      current = await api.readMutatingWebhookConfiguration({ name: opts.name });
    } catch (err) {
      if (codeOf(err) !== 404) throw err;
    }
    try {
      if (!current) {
        await api.createMutatingWebhookConfiguration({ body: desired });
        log.info({ url: opts.url }, 'registered the MutatingWebhookConfiguration');
        return 'created';
      }
      if (canonical(current.webhooks) === canonical(desired.webhooks)) return 'unchanged';
      const body = { ...current, metadata: { ...current.metadata, labels: { ...(current.metadata?.labels ?? {}), ...desired.metadata!.labels } }, webhooks: desired.webhooks! };
      await api.replaceMutatingWebhookConfiguration({ name: opts.name, body });
      log.info({ url: opts.url }, 'updated the MutatingWebhookConfiguration');
      return 'updated';
    } catch (err) {
      if (codeOf(err) === 409) continue;
      throw err;
    }
  }
  throw new Error(`the MutatingWebhookConfiguration ${opts.name} kept changing while it was registered`);
}
