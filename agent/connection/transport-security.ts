import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

/** The largest CA bundle the agent accepts (a chain of a few certificates is a few KiB). */
export const MAX_CA_BYTES = 256 * 1024;
/** The longest operator URL the agent accepts. */
export const MAX_URL_LENGTH = 2048;

/**
 * Whether `host` (a URL's hostname) is this machine's loopback: `localhost`, 127.0.0.0/8 or ::1. Only
 * there may a credential travel over plain `ws://`: nothing but this host can read it on the way.
 * `0.0.0.0` and `::` are not loopback: they name "any address" and a URL with them is a mistake.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

/**
 * Why the agent must not send a token read from `tokenFile` to `url`, or undefined when it may. A
 * token file holds a Kubernetes credential (the pod's projected ServiceAccount token): over plain
 * `ws://` to another host anyone on the path could replay it, so it goes only over `wss://` or to
 * loopback. (`SONDE_TOKEN`, the standalone operator's shared token, is the user's own choice.)
 */
export function credentialRefusal(url: string, tokenFile: string | undefined): string | undefined {
  if (tokenFile === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `SONDE_URL ${JSON.stringify(url)} is not a URL`;
  }
  if (parsed.protocol === 'wss:' || isLoopbackHost(parsed.hostname)) return undefined;
  return `refusing to send the token of SONDE_TOKEN_FILE (a Kubernetes credential) over plain ws:// to ${parsed.host}, which is not a loopback address: use a wss:// SONDE_URL (and SONDE_CA_CERT)`;
}

/**
 * Checks PEM text meant as the CA the agent trusts on `wss://`: within MAX_CA_BYTES, one or more
 * certificates, each of which parses. Returns the certificates' PEM blocks; throws with the reason.
 */
export function parseCaBundle(pem: string): string[] {
  if (Buffer.byteLength(pem) > MAX_CA_BYTES) throw new Error(`is larger than ${MAX_CA_BYTES / 1024} KiB`);
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error('holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  blocks.forEach((b, i) => {
    try {
      new X509Certificate(b);
    } catch (err) {
      throw new Error(`certificate ${i + 1} does not parse: ${(err as Error).message}`);
    }
  });
  return blocks;
}
