import { CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { judge, makeCa, makeServingCert, makeTlsMaterial } from './certificates.js';
import type { TlsMaterial } from './tls-material.js';

/**
 * TLS without manual steps (`--tls-secret`): the CA and serving certificate live in one Secret in the
 * operator's namespace. The first operator to start makes them; every later start (and every other
 * replica) reuses them. Concurrency is the API server's: a create that meets 409 AlreadyExists re-reads
 * what the other replica stored, and a renewal is a PUT with the read resourceVersion, so of two
 * replicas renewing at once one wins and the other adopts its result.
 */

export interface SecretTlsOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  /** Names the serving certificate must carry. */
  names: string[];
  now: () => number;
  log: Logger;
}

const KEYS = ['ca.crt', 'ca.key', 'tls.crt', 'tls.key'] as const;
const codeOf = (err: unknown): number | undefined => (err as { code?: unknown })?.code as number | undefined;
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

function materialOf(secret: V1Secret): TlsMaterial | undefined {
  const data = secret.data ?? {};
  if (!KEYS.every((k) => typeof data[k] === 'string' && data[k]!.length > 0)) return undefined;
  const text = (k: (typeof KEYS)[number]): string => Buffer.from(data[k]!, 'base64').toString('utf8');
  return { ca: text('ca.crt'), caKey: text('ca.key'), cert: text('tls.crt'), key: text('tls.key') };
}

function secretData(m: TlsMaterial): Record<string, string> {
  return { 'ca.crt': b64(m.ca), 'ca.key': b64(m.caKey ?? ''), 'tls.crt': b64(m.cert), 'tls.key': b64(m.key) };
}

/**
 * Returns usable material from the Secret, making or renewing it first when needed. Throws when the API
 * server cannot be reached or refuses (the caller decides whether that stops the operator).
 */
export async function ensureSecretTls(opts: SecretTlsOptions): Promise<TlsMaterial> {
  const api = opts.kubeConfig.makeApiClient(CoreV1Api);
  const log = opts.log.child({ module: 'tls', secret: `${opts.namespace}/${opts.name}` });
  const { namespace, name } = opts;
  for (let attempt = 1; attempt <= 5; attempt++) {
    let current: V1Secret | undefined;
    try {
      current = await api.readNamespacedSecret({ namespace, name });
    } catch (err) {
      if (codeOf(err) !== 404) throw err;
    }
    if (!current) {
      const material = makeTlsMaterial(opts.names, opts.now());
      const body: V1Secret = {
        metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'sonde' } },
        type: 'kubernetes.io/tls',
        data: secretData(material),
      };
      try {
        await api.createNamespacedSecret({ namespace, body });
        log.info('created the TLS Secret with a new CA and serving certificate');
        return material;
      } catch (err) {
        // Another replica created it first: use theirs, so both serve the same CA.
        if (codeOf(err) === 409) continue;
        throw err;
      }
    }
    const stored = materialOf(current);
    const verdict = stored ? judge(stored, opts.names, opts.now()) : ({ ok: false, renew: 'all', why: 'the Secret lacks ca.crt, ca.key, tls.crt or tls.key' } as const);
    if (verdict.ok) return stored!;
    const now = opts.now();
    let next: TlsMaterial;
    if (verdict.renew === 'serving' && stored) {
      const serving = makeServingCert({ cert: stored.ca, key: stored.caKey! }, opts.names, now);
      next = { ...stored, ...serving };
    } else {
      const ca = makeCa(now);
      const serving = makeServingCert(ca, opts.names, now);
      next = { ca: ca.cert, caKey: ca.key, ...serving };
    }
    try {
      // The resourceVersion makes this a compare-and-swap: a replica that renewed first makes ours 409.
      await api.replaceNamespacedSecret({ namespace, name, body: { ...current, data: { ...(current.data ?? {}), ...secretData(next) } } });
      log.info({ why: verdict.why, renewed: verdict.renew }, 'renewed the TLS material in the Secret');
      return next;
    } catch (err) {
      if (codeOf(err) === 409) continue;
      throw err;
    }
  }
  throw new Error(`the TLS Secret ${namespace}/${name} kept changing under us (5 conflicts in a row)`);
}
