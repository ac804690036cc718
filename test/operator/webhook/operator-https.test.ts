import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, startOperator, type RunningOperator } from '../../../operator/main.js';
import { FakeKubeApiServer, MUTATING_WEBHOOK_CONFIGURATIONS, SECRETS, writeKubeconfig } from '../../fake-kube/index.js';
import { FakeAgent } from '../../harness/fake-agent.js';
import { until } from '../kube/harness.js';
import { fixture, httpsCall } from './webhook-harness.js';

/**
 * The whole operator in cluster mode with `--tls-secret` against the fake API server: the main port
 * serves HTTPS, an agent dials `wss://` trusting only the operator's CA and is welcomed (TokenReview as
 * usual), and the webhook port answers reviews with that CA in the injected environment.
 */

const NS = 'sonde-system';
let fake: FakeKubeApiServer;
let dir: string;
let op: RunningOperator;
const logs: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sonde-op-tls-'));
  fake = await FakeKubeApiServer.start();
  fake.store.create(MUTATING_WEBHOOK_CONFIGURATIONS, {
    metadata: { name: 'sonde' },
    webhooks: [{ name: 'inject.sonde.dev', clientConfig: { service: { name: 'sonde', namespace: NS, path: '/mutate-v1-pod' } }, sideEffects: 'None', admissionReviewVersions: ['v1'] }],
  });
  const kubeconfig = writeKubeconfig(dir, fake);
  const config = loadConfig(
    ['--namespace', 'shop', '--port', '0', '--webhook-port', '0', '--data', join(dir, 'data'), '--tls-secret', 'sonde-tls', '--agent-image', 'ghcr.io/example/sonde:0.1.0', '--log-level', 'info'],
    { KUBECONFIG: kubeconfig, POD_NAMESPACE: NS },
  );
  const sink = new Writable({ write: (chunk, _enc, cb) => (logs.push(String(chunk)), cb()) });
  op = await startOperator(config, { logDestination: sink });
});

afterAll(async () => {
  await op?.close();
  await fake?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the main port with TLS', () => {
  it('serves HTTPS with the CA from the Secret, and refuses plain HTTP', async () => {
    expect(op.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = op.tls!.tls.current().ca;
    expect(Buffer.from(fake.store.get(SECRETS, NS, 'sonde-tls')!.data['ca.crt'], 'base64').toString()).toBe(ca);
    const health = await httpsCall({ port: op.port, ca, servername: 'sonde.sonde-system.svc', method: 'GET', path: '/healthz' });
    expect(health.status).toBe(200);
    const plain = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port: op.port, path: '/healthz' }, (res) => resolve(`status ${res.statusCode}`));
      req.on('error', (err) => resolve(`error ${err.message}`));
      req.end();
    });
    // A TLS server answers plain HTTP with a 400 or drops it; it never serves the API in the clear.
    expect(plain).not.toBe('status 200');
  });

  it('an agent dials wss:// trusting only that CA and is welcomed for its pod', async () => {
    const pod = fake.addPod({ name: 'checkout-6d8f9c7b5-abcde', namespace: 'shop', labels: { app: 'checkout' } });
    const uid = pod.metadata.uid as string;
    const token = fake.tokens.issuePodToken({ name: pod.metadata.name, namespace: 'shop', uid }, { audiences: ['sonde'] });
    const ca = op.tls!.tls.current().ca;
    const agent = await FakeAgent.connect({ url: `wss://127.0.0.1:${op.port}/v1/agents`, ca, token, pod: { name: pod.metadata.name, namespace: 'shop', uid } });
    expect(agent.welcome).toBeDefined();
    await agent.close();
    // Without the CA the handshake fails: the agent cannot be fooled into another server, nor this one into plain ws.
    await expect(FakeAgent.connect({ url: `wss://127.0.0.1:${op.port}/v1/agents`, token, pod: { name: pod.metadata.name, namespace: 'shop', uid } }, 3000)).rejects.toThrow();
  });

  it('the webhook port answers with the same CA in the injected environment, and patched the caBundle', async () => {
    const ca = op.tls!.tls.current().ca;
    await until(() => fake.store.get(MUTATING_WEBHOOK_CONFIGURATIONS, undefined, 'sonde')?.webhooks[0].clientConfig.caBundle === Buffer.from(ca).toString('base64'), 'caBundle patched');
    const answer = await httpsCall({ port: op.tls!.webhook!.port, ca, servername: 'sonde.sonde-system.svc', body: JSON.stringify(fixture('deployment-pod')) });
    const ops = JSON.parse(Buffer.from(answer.json.response.patch, 'base64').toString());
    const env = ops.find((o: any) => o.path === '/spec/containers/0/env/-' && o.value.name === 'SONDE_CA_CERT');
    expect(env.value.value).toBe(ca);
    expect(ops.find((o: any) => o.value?.name === 'SONDE_URL').value.value).toBe(`wss://sonde.sonde-system.svc:${op.port}/v1/agents`);
    expect(logs.join('')).toMatch(/"module":"webhook".*"msg":"agent injected"/);
  });
});

describe('standalone with --tls-cert-dir', () => {
  it('serves the mounted certificate on the main port, and no webhook', async () => {
    const { makeTlsMaterial } = await import('../../../operator/tls/certificates.js');
    const { servingNames } = await import('../../../operator/tls/tls-material.js');
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const m = makeTlsMaterial(servingNames('sonde', 'default'), Date.now());
    const certs = join(dir, 'certs');
    mkdirSync(certs, { recursive: true });
    for (const [f, text] of [['tls.crt', m.cert], ['tls.key', m.key], ['ca.crt', m.ca]] as const) writeFileSync(join(certs, f), text);
    const config = loadConfig(['--standalone', '--port', '0', '--data', join(dir, 'standalone'), '--tls-cert-dir', certs, '--log-level', 'silent'], {});
    const local = await startOperator(config);
    try {
      expect(local.url).toMatch(/^https:/);
      expect(local.tls!.webhook).toBeUndefined();
      const health = await httpsCall({ port: local.port, ca: m.ca, servername: 'localhost', method: 'GET', path: '/healthz' });
      expect(health.status).toBe(200);
    } finally {
      await local.close();
    }
  });
});
