import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TlsMaterial } from './tls-material.js';

/**
 * `--tls-cert-dir`: certificates someone else manages (cert-manager, mounted from its Secret). The
 * operator reads `tls.crt`, `tls.key` and `ca.crt` and patches nothing: cert-manager's CA injector owns
 * the webhook's caBundle then.
 */
export async function readCertDir(dir: string): Promise<TlsMaterial> {
  const read = async (file: string): Promise<string> => {
    try {
      const text = await readFile(join(dir, file), 'utf8');
      if (!text.includes('-----BEGIN ')) throw new Error('not PEM');
      return text;
    } catch (err) {
      throw new Error(`--tls-cert-dir: cannot use ${join(dir, file)}: ${(err as Error).message}`);
    }
  };
  const [cert, key, ca] = await Promise.all([read('tls.crt'), read('tls.key'), read('ca.crt')]);
  return { cert, key, ca };
}
