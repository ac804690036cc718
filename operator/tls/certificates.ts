import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import type { TlsMaterial } from './tls-material.js';

/**
 * The operator's own small PKI, made with node-forge (Node can read X.509 but not write it): a CA, and
 * a serving certificate it signs for the Service's names. Keys are RSA 2048 from Node's crypto (fast,
 * native); forge only assembles and signs the certificates. Time comes in as `now`, so renewal is tested
 * without waiting a year.
 */

const DAY = 24 * 60 * 60 * 1000;
/** The CA lives ten years: rotating it means re-patching the caBundle and re-injecting pods' CA. */
export const CA_DAYS = 3650;
/** The serving certificate lives one year and is renewed in its last 30 days. */
export const SERVING_DAYS = 365;
export const RENEW_BEFORE_DAYS = 30;
/** Clocks of the API server and the operator may differ a little. */
const BACKDATE_MS = 5 * 60 * 1000;

function rsaKey(): forge.pki.rsa.PrivateKey {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()) as forge.pki.rsa.PrivateKey;
}

function baseCert(key: forge.pki.rsa.PrivateKey, now: number, days: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  // A positive 128-bit serial (the top bit clear, as DER integers are signed).
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = new Date(now - BACKDATE_MS);
  cert.validity.notAfter = new Date(now + days * DAY);
  return cert;
}

/** A new self-signed CA. */
export function makeCa(now: number, commonName = 'sonde-ca'): { cert: string; key: string } {
  const key = rsaKey();
  const cert = baseCert(key, now, CA_DAYS);
  const subject = [{ name: 'commonName', value: commonName }, { name: 'organizationName', value: 'sonde' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(key) };
}

/** A serving certificate for `names` (DNS names and IP addresses), signed by the CA. */
export function makeServingCert(ca: { cert: string; key: string }, names: string[], now: number): { cert: string; key: string } {
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const caKey = forge.pki.privateKeyFromPem(ca.key);
  const key = rsaKey();
  const cert = baseCert(key, now, SERVING_DAYS);
  cert.setSubject([{ name: 'commonName', value: names[0] ?? 'sonde' }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: names.map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(key) };
}

/** A fresh CA and serving certificate. */
export function makeTlsMaterial(names: string[], now: number): TlsMaterial {
  const ca = makeCa(now);
  const serving = makeServingCert(ca, names, now);
  return { cert: serving.cert, key: serving.key, ca: ca.cert, caKey: ca.key };
}

/** Why stored material cannot be used as is, or undefined when it can. */
export type Verdict = { ok: true } | { ok: false; renew: 'all' | 'serving'; why: string };

/**
 * Judges stored material at `now`: unreadable, a CA near its end, or a key that does not match means
 * a new CA ('all'); a serving certificate near its end, not signed by the CA, or missing a name means a
 * new serving certificate ('serving').
 */
export function judge(m: TlsMaterial, names: string[], now: number): Verdict {
  let ca: X509Certificate;
  let serving: X509Certificate;
  try {
    ca = new X509Certificate(m.ca);
    if (!m.caKey || !ca.checkPrivateKey(createPrivateKey(m.caKey))) return { ok: false, renew: 'all', why: 'the CA key is missing or does not match the CA' };
  } catch (err) {
    return { ok: false, renew: 'all', why: `the CA cannot be read (${(err as Error).message})` };
  }
  const renewAt = now + RENEW_BEFORE_DAYS * DAY;
  if (Date.parse(ca.validTo) < renewAt) return { ok: false, renew: 'all', why: `the CA expires ${ca.validTo}` };
  try {
    serving = new X509Certificate(m.cert);
    if (!serving.checkPrivateKey(createPrivateKey(m.key))) return { ok: false, renew: 'serving', why: 'the serving key does not match its certificate' };
  } catch (err) {
    return { ok: false, renew: 'serving', why: `the serving certificate cannot be read (${(err as Error).message})` };
  }
  if (!serving.verify(ca.publicKey)) return { ok: false, renew: 'serving', why: 'the serving certificate is not signed by the CA' };
  if (Date.parse(serving.validTo) < renewAt) return { ok: false, renew: 'serving', why: `the serving certificate expires ${serving.validTo}` };
  const missing = names.filter((n) => !(isIP(n) ? serving.checkIP(n) : serving.checkHost(n, { wildcards: false })));
  if (missing.length) return { ok: false, renew: 'serving', why: `the serving certificate lacks ${missing.join(', ')}` };
  return { ok: true };
}

/** When the serving certificate should next be renewed (epoch ms). */
export function renewalDue(m: TlsMaterial): number {
  return Date.parse(new X509Certificate(m.cert).validTo) - RENEW_BEFORE_DAYS * DAY;
}
