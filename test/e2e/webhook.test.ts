import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeKubeApiServer, MUTATING_WEBHOOK_CONFIGURATIONS, SECRETS, writeKubeconfig } from '../fake-kube/index.js';
import { FakeAgent } from '../harness/fake-agent.js';
import { applyResponse, fixture, httpsCall } from '../operator/webhook/webhook-harness.js';
import { CLI, Proc, eventually, freePort, missingBuild } from './processes.js';

/**
 * The `sonde` binary run outside the cluster with `--tls-secret` and `--webhook-url`, as a developer or
 * an e2e run does. The test plays the API server: it reads the MutatingWebhookConfiguration the operator
 * registered, calls its `clientConfig.url` trusting only its `caBundle`, applies the returned patch, and
 * then dials `wss://` as the injected agent would, with the CA and URL the patch put in its environment.
 */

const missing = missingBuild();
const NS = 'sonde-system';
let fake: FakeKubeApiServer;
let dir: string;
let op: Proc;
let port: number;
let webhookPort: number;

beforeAll(async () => {
  if (missing) return;
  dir = mkdtempSync(join(tmpdir(), 'sonde-e2e-webhook-'));
  fake = await FakeKubeApiServer.start();
  const kubeconfig = writeKubeconfig(dir, fake);
  port = await freePort();
  webhookPort = await freePort();
  const child = spawn(
    process.execPath,
    [CLI, 'operator', '--port', String(port), '--host', '127.0.0.1', '--namespace', 'shop', '--data', join(dir, 'data'),
      '--tls-secret', 'sonde-tls', '--webhook-port', String(webhookPort), '--webhook-url', `https://127.0.0.1:${webhookPort}`,
      '--agent-image', 'ghcr.io/example/sonde:0.1.0', '--agent-url', `wss://127.0.0.1:${port}/v1/agents`],
    { env: { PATH: process.env.PATH, HOME: process.env.HOME, KUBECONFIG: kubeconfig, POD_NAMESPACE: NS, SONDE_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  op = new Proc(child, 'operator');
  await eventually(() => {
    if (!op.running) throw new Error(`operator exited: ${op.out.slice(-2000)}`);
    return /"msg":"operator listening"/.test(op.out) || undefined;
  }, 30_000, 'operator listening');
});

afterAll(async () => {
  await op?.stop('SIGKILL', 1000);
  await fake?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(missing)('sonde operator --tls-secret --webhook-url (out of cluster)', () => {
  it('registers the webhook; the API server role reaches it by its URL and caBundle; the injected agent dials wss with what the patch gave it', async () => {
    const mwc = fake.store.get(MUTATING_WEBHOOK_CONFIGURATIONS, undefined, 'sonde')!;
    const hook = mwc.webhooks[0];
    expect(hook.clientConfig.url).toBe(`https://127.0.0.1:${webhookPort}/mutate-v1-pod`);
    const caBundle = Buffer.from(hook.clientConfig.caBundle, 'base64').toString('utf8');
    expect(Buffer.from(fake.store.get(SECRETS, NS, 'sonde-tls')!.data['ca.crt'], 'base64').toString()).toBe(caBundle);

    const review = fixture('deployment-pod');
    const url = new URL(hook.clientConfig.url);
    const answer = await httpsCall({ port: Number(url.port), ca: caBundle, servername: url.hostname, path: url.pathname, body: JSON.stringify(review) });
    expect(answer.json.response.allowed).toBe(true);
    const { pod } = applyResponse(review, answer.json.response);
    const env = Object.fromEntries(pod.spec.containers[0].env.map((e: any) => [e.name, e.value]));
    expect(env.SONDE_CA_CERT).toBe(caBundle);
    expect(env.SONDE_URL).toBe(`wss://127.0.0.1:${port}/v1/agents`);

    // The pod as the API server would store it, and the agent inside it dialling home.
    const stored = fake.addPod({ name: 'checkout-6d8f9c7b5-k2x9q', namespace: 'shop', labels: pod.metadata.labels });
    const uid = stored.metadata.uid as string;
    const token = fake.tokens.issuePodToken({ name: stored.metadata.name, namespace: 'shop', uid }, { audiences: ['sonde'] });
    const agent = await FakeAgent.connect({ url: env.SONDE_URL, ca: env.SONDE_CA_CERT, token, pod: { name: stored.metadata.name, namespace: 'shop', uid } });
    expect(agent.welcome).toBeDefined();
    await agent.close();

    const lines = op.jsonLines();
    expect(lines.some((l) => l.module === 'webhook' && l.msg === 'agent injected')).toBe(true);
    expect(lines.some((l) => l.msg === 'registered the MutatingWebhookConfiguration')).toBe(true);
  });

  it('shuts down cleanly on SIGTERM', async () => {
    expect(await op.stop('SIGTERM', 10_000)).toBe(0);
  });
});
