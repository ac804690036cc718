import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../operator/clock.js';
import { loadConfig } from '../../../operator/main.js';
import { makeTlsMaterial } from '../../../operator/tls/certificates.js';
import { ensureSecretTls } from '../../../operator/tls/secret-tls.js';
import { servingNames } from '../../../operator/tls/tls-material.js';
import { startTlsRuntime, type TlsRuntime } from '../../../operator/webhook/tls-runtime.js';
import { FakeKubeApiServer, fakeKubeConfig, MUTATING_WEBHOOK_CONFIGURATIONS, SECRETS, type KubeObject } from '../../fake-kube/index.js';
import { testLog, until } from '../kube/harness.js';
import { fixture, httpsCall } from './webhook-harness.js';

/**
 * TLS without manual steps, against the fake API server: the first start makes the CA and serving
 * certificate and stores them in the Secret, patches the webhook configuration's caBundle, and a client
 * that trusts only that caBundle reaches the webhook under the Service's DNS name. Restarts, racing
 * replicas, renewal, cert-manager's directory and `--webhook-url` registration.
 */

const NS = 'sonde-system';
const DAY = 86_400_000;
let fake: FakeKubeApiServer;
let dir: string;
const runtimes: TlsRuntime[] = [];

/** The configuration as the chart installs it: a service clientConfig and no caBundle yet. */
function chartWebhookConfig(): KubeObject {
  return {
    metadata: { name: 'sonde' },
    webhooks: [
      {
        name: 'inject.sonde.dev',
        clientConfig: { service: { name: 'sonde', namespace: NS, path: '/mutate-v1-pod', port: 9443 } },
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
        failurePolicy: 'Ignore',
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
      },
    ],
  };
}

function config(...flags: string[]) {
  return loadConfig(['--operator-namespace', NS, '--webhook-port', '0', '--port', '0', '--agent-image', 'ghcr.io/example/sonde:0.1.0', ...flags], {});
}

async function start(clock: ManualClock, ...flags: string[]): Promise<TlsRuntime> {
  const rt = await startTlsRuntime({ config: config(...flags), kubeConfig: fakeKubeConfig(fake), mainPort: 7070, clock, log: testLog() });
  runtimes.push(rt);
  return rt;
}

const secret = (): KubeObject | undefined => fake.store.get(SECRETS, NS, 'sonde-tls');
const pem = (s: KubeObject, key: string): string => Buffer.from(s.data[key], 'base64').toString('utf8');
const bundleOf = (name = 'sonde'): string | undefined => {
  const c = fake.store.get(MUTATING_WEBHOOK_CONFIGURATIONS, undefined, name);
  const b = c?.webhooks?.[0]?.clientConfig?.caBundle;
  return b ? Buffer.from(b, 'base64').toString('utf8') : undefined;
};
const writes = (plural: string) => fake.requests.filter((r) => r.path.includes(plural) && r.method !== 'GET');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sonde-tls-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(async () => {
  fake = await FakeKubeApiServer.start();
});
afterEach(async () => {
  for (const rt of runtimes.splice(0)) await rt.close();
  await fake.stop();
});

describe('--tls-secret', () => {
  it('first start: creates the Secret, patches the caBundle, and a client trusting only that bundle reaches the webhook by its Service name', async () => {
    fake.store.create(MUTATING_WEBHOOK_CONFIGURATIONS, chartWebhookConfig());
    const rt = await start(new ManualClock(Date.now()), '--tls-secret', 'sonde-tls');
    const s = secret()!;
    expect(s.type).toBe('kubernetes.io/tls');
    expect(Object.keys(s.data).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    expect(pem(s, 'ca.crt')).toBe(rt.tls.current().ca);
    const bundle = bundleOf()!;
    expect(bundle).toBe(pem(s, 'ca.crt'));
    // The rest of the chart's configuration is untouched.
    const mwc = fake.store.get(MUTATING_WEBHOOK_CONFIGURATIONS, undefined, 'sonde')!;
    expect(mwc.webhooks[0].clientConfig.service).toEqual(chartWebhookConfig().webhooks[0].clientConfig.service);
    expect(mwc.webhooks[0].failurePolicy).toBe('Ignore');

    const cert = new X509Certificate(pem(s, 'tls.crt'));
    expect(cert.subjectAltName).toContain('DNS:sonde.sonde-system.svc');
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(cert.verify(new X509Certificate(bundle).publicKey)).toBe(true);

    for (const servername of ['sonde.sonde-system.svc', 'sonde.sonde-system.svc.cluster.local', 'localhost']) {
      const answer = await httpsCall({ port: rt.webhook!.port, ca: bundle, servername, body: JSON.stringify(fixture('bare-pod')) });
      expect(answer.json.response.allowed).toBe(true);
      expect(answer.json.response.patch).toBeDefined();
      const ops = JSON.parse(Buffer.from(answer.json.response.patch, 'base64').toString());
      const env = ops.find((o: any) => o.path === '/spec/containers/0/env').value;
      expect(env.find((e: any) => e.name === 'SONDE_CA_CERT').value).toBe(bundle);
      expect(env.find((e: any) => e.name === 'SONDE_URL').value).toBe('wss://sonde.sonde-system.svc:7070/v1/agents');
    }
    // A name the certificate does not carry is refused by the client.
    await expect(httpsCall({ port: rt.webhook!.port, ca: bundle, servername: 'sonde.other.svc', body: '{}' })).rejects.toThrow(/altnames|Hostname/i);
    // So is a client that trusts another CA.
    await expect(httpsCall({ port: rt.webhook!.port, ca: makeTlsMaterial(['x'], Date.now()).ca, body: '{}' })).rejects.toThrow();
  });

  it('a restart reuses the Secret and writes nothing', async () => {
    fake.store.create(MUTATING_WEBHOOK_CONFIGURATIONS, chartWebhookConfig());
    const first = await start(new ManualClock(Date.now()), '--tls-secret', 'sonde-tls');
    await first.close();
    fake.clearRequests();
    const second = await start(new ManualClock(Date.now()), '--tls-secret', 'sonde-tls');
    expect(second.tls.current()).toEqual(first.tls.current());
    expect(writes('secrets')).toEqual([]);
    expect(writes('mutatingwebhookconfigurations')).toEqual([]);
  });

  it('two replicas starting at once end up with the same CA (the create that conflicts re-reads)', async () => {
    const kc = fakeKubeConfig(fake);
    const names = servingNames('sonde', NS);
    const [a, b] = await Promise.all([1, 2].map(() => ensureSecretTls({ kubeConfig: kc, namespace: NS, name: 'sonde-tls', names, now: Date.now, log: testLog() })));
    expect(a!.ca).toBe(b!.ca);
    expect(a!.cert).toBe(b!.cert);
    expect(pem(secret()!, 'ca.crt')).toBe(a!.ca);
    const creates = fake.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/secrets'));
    expect(creates.map((r) => r.status).sort()).toEqual([201, 409]);
  });

  it('renews the serving certificate near its expiry, keeping the CA; a stale replica adopts the renewal', async () => {
    fake.store.create(MUTATING_WEBHOOK_CONFIGURATIONS, chartWebhookConfig());
    const clock = new ManualClock(Date.now());
    const rt = await start(clock, '--tls-secret', 'sonde-tls');
    const before = rt.tls.current();
    const changed: string[] = [];
    rt.tls.onChange((m) => changed.push(m.cert));
    clock.advance(300 * DAY);
    await rt.tls.check();
    expect(rt.tls.current().cert).toBe(before.cert); // 65 days left: not yet
    clock.advance(40 * DAY);
    await rt.tls.check();
    const after = rt.tls.current();
    expect(after.cert).not.toBe(before.cert);
    expect(after.ca).toBe(before.ca);
    expect(changed).toEqual([after.cert]);
    expect(pem(secret()!, 'tls.crt')).toBe(after.cert);
    expect(Date.parse(new X509Certificate(after.cert).validTo)).toBeGreaterThan(clock.now() + 300 * DAY);
    // The CA did not change, so the caBundle was not patched again.
    expect(bundleOf()).toBe(before.ca);
    // Another replica with the same clock finds the renewed certificate and takes it as is.
    fake.clearRequests();
    const other = await ensureSecretTls({ kubeConfig: fakeKubeConfig(fake), namespace: NS, name: 'sonde-tls', names: servingNames('sonde', NS), now: () => clock.now(), log: testLog() });
    expect(other.cert).toBe(after.cert);
    expect(writes('secrets')).toEqual([]);
  });

  it('a Secret that lost a key or holds a foreign certificate is made whole again', async () => {
    const names = servingNames('sonde', NS);
    const kc = fakeKubeConfig(fake);
    fake.store.create(SECRETS, { metadata: { name: 'sonde-tls', namespace: NS }, type: 'kubernetes.io/tls', data: { 'tls.crt': 'eA==', 'tls.key': 'eA==' } });
    const m = await ensureSecretTls({ kubeConfig: kc, namespace: NS, name: 'sonde-tls', names, now: Date.now, log: testLog() });
    expect(pem(secret()!, 'ca.crt')).toBe(m.ca);
    // A serving certificate from another CA is replaced, the CA kept.
    const foreign = makeTlsMaterial(names, Date.now());
    const s = secret()!;
    s.data['tls.crt'] = Buffer.from(foreign.cert).toString('base64');
    s.data['tls.key'] = Buffer.from(foreign.key).toString('base64');
    fake.store.update(SECRETS, NS, 'sonde-tls', s);
    const again = await ensureSecretTls({ kubeConfig: kc, namespace: NS, name: 'sonde-tls', names, now: Date.now, log: testLog() });
    expect(again.ca).toBe(m.ca);
    expect(again.cert).not.toBe(foreign.cert);
    expect(new X509Certificate(again.cert).verify(new X509Certificate(m.ca).publicKey)).toBe(true);
  });

  it('a webhook configuration that appears later gets its caBundle on the next check', async () => {
    const clock = new ManualClock(Date.now());
    const rt = await start(clock, '--tls-secret', 'sonde-tls');
    expect(bundleOf()).toBeUndefined();
    fake.store.create(MUTATING_WEBHOOK_CONFIGURATIONS, chartWebhookConfig());
    clock.advance(60_000);
    await rt.tls.check();
    expect(bundleOf()).toBe(rt.tls.current().ca);
  });
});

describe('--tls-cert-dir (cert-manager)', () => {
  it('serves the mounted certificate and patches nothing', async () => {
    fake.store.create(MUTATING_WEBHOOK_CONFIGURATIONS, chartWebhookConfig());
    const m = makeTlsMaterial(servingNames('sonde', NS), Date.now());
    const certDir = join(dir, 'cert-manager');
    rmSync(certDir, { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(certDir);
    writeFileSync(join(certDir, 'tls.crt'), m.cert);
    writeFileSync(join(certDir, 'tls.key'), m.key);
    writeFileSync(join(certDir, 'ca.crt'), m.ca);
    const rt = await start(new ManualClock(Date.now()), '--tls-cert-dir', certDir);
    expect(rt.tls.current().cert).toBe(m.cert);
    const answer = await httpsCall({ port: rt.webhook!.port, ca: m.ca, servername: 'sonde.sonde-system.svc', body: JSON.stringify(fixture('bare-pod')) });
    expect(answer.json.response.patch).toBeDefined();
    expect(writes('mutatingwebhookconfigurations')).toEqual([]);
    expect(writes('secrets')).toEqual([]);
    expect(bundleOf()).toBeUndefined();
    // A missing file is a clear error at start.
    rmSync(join(certDir, 'ca.crt'));
    await expect(start(new ManualClock(Date.now()), '--tls-cert-dir', certDir)).rejects.toThrow(/--tls-cert-dir: cannot use .*ca\.crt/);
  });
});

describe('--webhook-url', () => {
  it('registers the configuration with the URL, its caBundle and the safety settings; a restart leaves it; a new URL updates it', async () => {
    const rt = await start(new ManualClock(Date.now()), '--tls-secret', 'sonde-tls', '--webhook-url', 'https://127.0.0.1:9443');
    const mwc = fake.store.get(MUTATING_WEBHOOK_CONFIGURATIONS, undefined, 'sonde')!;
    const w = mwc.webhooks[0];
    expect(w.clientConfig.url).toBe('https://127.0.0.1:9443/mutate-v1-pod');
    expect(Buffer.from(w.clientConfig.caBundle, 'base64').toString()).toBe(rt.tls.current().ca);
    expect(w.failurePolicy).toBe('Ignore');
    expect(w.sideEffects).toBe('None');
    expect(w.timeoutSeconds).toBeLessThanOrEqual(5);
    expect(w.admissionReviewVersions).toEqual(['v1']);
    expect(w.reinvocationPolicy).toBe('IfNeeded');
    expect(w.rules).toEqual([{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }]);
    expect(w.namespaceSelector.matchExpressions).toEqual([
      { key: 'sonde.dev/injection', operator: 'In', values: ['enabled'] },
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [NS, 'kube-system'] },
    ]);
    await rt.close();
    runtimes.splice(runtimes.indexOf(rt), 1);
    fake.clearRequests();
    const again = await start(new ManualClock(Date.now()), '--tls-secret', 'sonde-tls', '--webhook-url', 'https://127.0.0.1:9443/mutate-v1-pod');
    expect(writes('mutatingwebhookconfigurations')).toEqual([]);
    await again.close();
    runtimes.splice(runtimes.indexOf(again), 1);
    await start(new ManualClock(Date.now()), '--tls-secret', 'sonde-tls', '--webhook-url', 'https://10.0.0.7:9443/mutate-v1-pod');
    expect(fake.store.get(MUTATING_WEBHOOK_CONFIGURATIONS, undefined, 'sonde')!.webhooks[0].clientConfig.url).toBe('https://10.0.0.7:9443/mutate-v1-pod');
    expect(fake.store.list(MUTATING_WEBHOOK_CONFIGURATIONS)).toHaveLength(1);
  });
});

describe('when the API server says no', () => {
  it('waits out a briefly unavailable API server at start', async () => {
    const { systemClock } = await import('../../../operator/clock.js');
    fake.failNext({ path: '/secrets', code: 503, reason: 'ServiceUnavailable', times: 2 });
    const rt = await startTlsRuntime({ config: config('--tls-secret', 'sonde-tls'), kubeConfig: fakeKubeConfig(fake), mainPort: 7070, clock: systemClock, log: testLog() });
    runtimes.push(rt);
    expect(pem(secret()!, 'ca.crt')).toBe(rt.tls.current().ca);
    expect(fake.requests.filter((r) => r.path.includes('/secrets') && r.status === 503)).toHaveLength(2);
  });

  it('a Secret it may not read stops the start with what RBAC must allow', async () => {
    fake.failNext({ path: '/secrets', code: 403, reason: 'Forbidden', message: 'secrets "sonde-tls" is forbidden' });
    await expect(start(new ManualClock(Date.now()), '--tls-secret', 'sonde-tls')).rejects.toThrow(/needs get, create and update on secrets in its namespace/);
  });

  it('a caBundle patch that fails is retried a minute later; the operator keeps serving meanwhile', async () => {
    fake.store.create(MUTATING_WEBHOOK_CONFIGURATIONS, chartWebhookConfig());
    fake.failNext({ path: '/mutatingwebhookconfigurations', method: 'PATCH', code: 500 });
    const clock = new ManualClock(Date.now());
    const rt = await start(clock, '--tls-secret', 'sonde-tls');
    expect(bundleOf()).toBeUndefined();
    clock.advance(60_000);
    await until(() => bundleOf() === rt.tls.current().ca, 'caBundle patched on the retry');
  });
});
