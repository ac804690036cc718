import { spawn } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiCall, apiCallOf, describeCall, FakeKubeApiServer, MUTATING_WEBHOOK_CONFIGURATIONS, PROFILING_SESSIONS, SECRETS, writeKubeconfig, type KubeObject } from '../fake-kube/index.js';
import { FakeAgent } from '../harness/fake-agent.js';
import { CLI, Proc, eventually, freePort, missingBuild } from '../e2e/processes.js';
import { allowedBy, chartRbac, mergeValues, permissions, readValues, type Values } from './chart-files.js';

/**
 * The chart's RBAC against what the operator really calls. Each scenario installs the chart's values in
 * thought (the rules `templates/rbac.yaml` renders for them), runs the built operator in cluster mode
 * against the fake API server, drives it through its paths, and records every API request by verb,
 * resource, subresource and namespace. Then, both ways:
 *   - every call is allowed by the rules (else the operator would get 403 in a cluster);
 *   - every granted permission was used by some call (else the chart grants more than it needs),
 *     except those listed in AWAITING, whose callers land from other branches.
 * Adding a path is one line in SCENARIOS (a `drive` step) or in STEPS.
 */
const RELEASE = 'sonde';
const OPERATOR_NS = 'sonde-system';
const APP_NS = 'shop';

/** Permissions the chart grants for code that lands from another branch; the lead drops a line when a scenario drives it. */
const AWAITING: Record<string, string> = {};

interface Ctx {
  fake: FakeKubeApiServer;
  agentUrl: string;
  namespace: string;
  /** The operator's CA (PEM) when it serves TLS. */
  ca?: string;
  /** Agents stay connected until the scenario ends, so sessions find a pod to run on. */
  agents: FakeAgent[];
}

type Step = (ctx: Ctx) => Promise<void>;

const sessionStatus = (fake: FakeKubeApiServer, ns: string, name: string): Record<string, unknown> | undefined =>
  (fake.store.get(PROFILING_SESSIONS, ns, name) as (KubeObject & { status?: Record<string, unknown> }) | undefined)?.status;

/** The operator's paths, each a step that waits until the operator has made its calls. */
const STEPS: Record<string, Step> = {
  /** An agent dials in with its pod's projected token (TokenReview) and stays. */
  async agentConnects({ fake, agentUrl, namespace, agents, ca }) {
    const pod = fake.addPod({ name: 'checkout-1', namespace, labels: { app: 'checkout' } });
    const uid = pod.metadata.uid as string;
    const token = fake.tokens.issuePodToken({ name: 'checkout-1', namespace, uid });
    const agent = await FakeAgent.connect({ url: agentUrl, token, pod: { name: 'checkout-1', namespace, uid }, ...(ca ? { ca } : {}) });
    expect(agent.welcome).toBeDefined();
    agents.push(agent);
  },
  /** A person reads the API with a Kubernetes token (`--auth kubernetes`, the chart's default): TokenReview, then SubjectAccessReview. */
  async personReadsApi({ fake, agentUrl, namespace, ca }) {
    fake.policy.allow('alice', namespace, ['get', 'list']);
    const token = fake.tokens.issueUserToken('alice');
    const url = new URL(agentUrl.replace(/^ws/, 'http').replace(/\/v1\/agents$/, '/api/v1/sessions'));
    const body = await new Promise<string>((resolve, reject) => {
      const get = url.protocol === 'https:' ? httpsGet : httpGet;
      get(url, { headers: { authorization: `Bearer ${token}` }, ...(ca ? { ca } : {}) }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`HTTP ${res.statusCode}: ${text}`))));
      }).on('error', reject);
    });
    expect((JSON.parse(body) as { items: unknown[] }).items).toBeDefined();
    expect(fake.requests.map(apiCallOf).some((c) => c?.resource === 'subjectaccessreviews' && c.verb === 'create')).toBe(true);
  },
  /** A session is applied and runs on the agent: its status is patched (the first patch meets a 409, so the writer re-reads it) and a Started Event is recorded. */
  async sessionRuns({ fake, namespace }) {
    fake.failNext({ method: 'PATCH', path: /\/profilingsessions\/orders\/status$/, code: 409, reason: 'Conflict', message: 'the object has been modified' });
    fake.createSession(namespace, 'orders', { selector: { matchLabels: { app: 'checkout' } }, request: 'GET /api/orders/:id', requests: 5, duration: '1m' });
    await eventually(() => (sessionStatus(fake, namespace, 'orders')?.phase ? true : undefined), 30_000, 'session status written');
    await eventually(() => {
      const calls = fake.requests.map(apiCallOf);
      const got = calls.some((c) => c?.verb === 'get' && c.resource === 'profilingsessions');
      const events = calls.some((c) => c?.verb === 'create' && c.resource === 'events');
      return got && events ? true : undefined;
    }, 30_000, 'a re-read after the conflict and an Event').catch((err: Error) => {
      throw new Error(`${err.message}; requests: ${[...new Set(fake.requests.map((r) => `${r.method} ${r.path} ${r.status}`))].join(', ')}`);
    });
  },
};

interface Scenario {
  name: string;
  /** Chart values over values.yaml. */
  values: Values;
  /** `sonde operator` flags the chart passes for these values (`chartArgs` adds the TLS and webhook ones). */
  args: string[];
  /** Objects present before the operator starts (what `helm install` made, or an earlier run). */
  before?: (fake: FakeKubeApiServer) => void;
  steps: (keyof typeof STEPS)[];
}

/** The chart's TLS and webhook flags for tls.mode=secret (templates/deployment.yaml), with a free webhook port. */
const chartTlsArgs = (webhookPort: number): string[] => [
  '--operator-namespace', OPERATOR_NS, '--service-name', RELEASE, '--tls-secret', `${RELEASE}-tls`,
  '--webhook-port', String(webhookPort), '--webhook-config', RELEASE, '--agent-image', 'sonde/sonde:0.1.0',
];

/** The MutatingWebhookConfiguration as templates/webhook.yaml makes it, before the operator patches its caBundle. */
const chartWebhook = (fake: FakeKubeApiServer): void => void fake.store.create(MUTATING_WEBHOOK_CONFIGURATIONS, {
  metadata: { name: RELEASE },
  webhooks: [{ name: 'inject.sonde.dev', admissionReviewVersions: ['v1'], clientConfig: { service: { name: RELEASE, namespace: OPERATOR_NS, path: '/mutate-v1-pod', port: 443 } }, failurePolicy: 'Ignore', sideEffects: 'None' }],
} as unknown as KubeObject);

const SCENARIOS: Scenario[] = [
  { name: 'cluster-wide (default values, TLS Secret made on first start)', values: {}, args: ['--tls'], before: chartWebhook, steps: ['agentConnects', 'sessionRuns', 'personReadsApi'] },
  { name: 'one watched namespace, a TLS Secret that needs repair', values: { operator: { watchNamespaces: [APP_NS] } }, args: ['--tls', '--namespace', APP_NS],
    before: (fake) => { chartWebhook(fake); fake.store.create(SECRETS, { metadata: { name: `${RELEASE}-tls`, namespace: OPERATOR_NS }, data: {} } as unknown as KubeObject); },
    steps: ['agentConnects', 'sessionRuns', 'personReadsApi'] },
];

/** Runs the built operator in cluster mode; `--tls` in args stands for the chart's TLS flags. Resolves when /readyz answers. */
async function startClusterOperator(args: string[], env: Record<string, string>, fake: FakeKubeApiServer): Promise<{ proc: Proc; agentUrl: string; ca?: string }> {
  const port = await freePort();
  const tls = args.includes('--tls');
  const flags = tls ? [...args.filter((a) => a !== '--tls'), ...chartTlsArgs(await freePort())] : args;
  const child = spawn(process.execPath, [CLI, 'operator', '--port', String(port), '--host', '127.0.0.1', ...flags], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, SONDE_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = new Proc(child, 'operator');
  running.push(proc);
  // The kubelet's probe: HTTPS without verifying the certificate, when TLS is on.
  const ready = (): Promise<boolean> =>
    tls
      ? new Promise((resolve) => httpsGet({ host: '127.0.0.1', port, path: '/readyz', rejectUnauthorized: false }, (res) => (res.resume(), resolve(res.statusCode === 200))).on('error', () => resolve(false)))
      : fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
  await eventually(async () => {
    if (!proc.running) throw new Error(`operator exited: ${proc.out.slice(-2000)}`);
    return (await ready()) || undefined;
  }, 30_000, 'operator ready');
  if (!tls) return { proc, agentUrl: `ws://127.0.0.1:${port}/v1/agents` };
  const secret = fake.store.get(SECRETS, OPERATOR_NS, `${RELEASE}-tls`) as unknown as { data: Record<string, string> };
  return { proc, agentUrl: `wss://127.0.0.1:${port}/v1/agents`, ca: Buffer.from(secret.data['ca.crt']!, 'base64').toString('utf8') };
}

const running: Proc[] = [];
/** Across scenarios: the permissions granted (key → grant) and those some call used. */
const granted = new Map<string, string>();
const used = new Set<string>();
let ran = 0;

const missing = missingBuild();
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sonde-rbac-'));
});

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop('SIGKILL', 1000)));
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(missing)("the chart's RBAC is what the operator calls, no more", () => {
  for (const scenario of SCENARIOS) {
    it(scenario.name, async () => {
      const values = mergeValues(readValues(), scenario.values);
      const rbac = chartRbac(values, RELEASE, OPERATOR_NS);
      const fake = await FakeKubeApiServer.start();
      try {
        const home = mkdtempSync(join(dir, 'scenario-'));
        const kubeconfig = writeKubeconfig(home, fake);
        scenario.before?.(fake);
        const op = await startClusterOperator([...scenario.args, '--data', join(home, 'data')], { KUBECONFIG: kubeconfig, POD_NAMESPACE: OPERATOR_NS }, fake);
        const ctx: Ctx = { fake, agentUrl: op.agentUrl, namespace: APP_NS, agents: [], ...(op.ca ? { ca: op.ca } : {}) };
        for (const step of scenario.steps) await STEPS[step]!(ctx);
        for (const agent of ctx.agents) await agent.close();
        await op.proc.stop();

        const calls = fake.requests.map(apiCallOf).filter((c): c is ApiCall => c !== undefined);
        expect(calls.length).toBeGreaterThan(5);
        const denied = [...new Set(calls.filter((c) => !allowedBy(rbac, c)).map(describeCall))];
        expect(denied, 'calls the chart does not allow').toEqual([]);

        for (const c of calls) {
          const by = allowedBy(rbac, c)!;
          used.add(`${by.scope} ${c.group || 'core'}/${c.subresource ? `${c.resource}/${c.subresource}` : c.resource} ${c.verb}`);
        }
        for (const p of permissions(rbac)) granted.set(p.key, p.grant);
        ran++;
      } finally {
        await fake.stop();
      }
    });
  }

  it('grants no permission that no scenario used (AWAITING aside)', () => {
    expect(ran, 'every scenario ran').toBe(SCENARIOS.length);
    const unused = [...granted].filter(([key, grant]) => !used.has(key) && !(grant in AWAITING)).map(([key]) => key);
    expect(unused, 'permissions no call needed').toEqual([]);
    // An AWAITING line whose permission is now used is stale: drop it.
    const stale = Object.keys(AWAITING).filter((grant) => [...used].some((key) => key.endsWith(` ${grant}`)));
    expect(stale, 'AWAITING lines a scenario now covers').toEqual([]);
  });

  it('catches a call the rules do not allow and a permission no call uses (the check can fail)', () => {
    const rbac = chartRbac(readValues(), RELEASE, OPERATOR_NS);
    expect(allowedBy(rbac, { verb: 'delete', group: '', resource: 'pods', namespace: APP_NS, name: 'x' })).toBeUndefined();
    expect(allowedBy(rbac, { verb: 'get', group: '', resource: 'secrets', namespace: APP_NS, name: 'sonde-tls' })).toBeUndefined();
    expect(allowedBy(rbac, { verb: 'get', group: '', resource: 'secrets', namespace: OPERATOR_NS, name: 'other' })).toBeUndefined();
    expect(allowedBy(rbac, { verb: 'get', group: '', resource: 'secrets', namespace: OPERATOR_NS, name: 'sonde-tls' })).toBeDefined();
    expect(allowedBy(rbac, { verb: 'patch', group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', name: 'someone-elses' })).toBeUndefined();
    expect(allowedBy(rbac, { verb: 'patch', group: 'sonde.dev', resource: 'profilingsessions', namespace: APP_NS, name: 'orders' })).toBeUndefined();
    const namespaced = chartRbac(mergeValues(readValues(), { operator: { watchNamespaces: [APP_NS] } }), RELEASE, OPERATOR_NS);
    expect(allowedBy(namespaced, { verb: 'list', group: '', resource: 'pods', namespace: 'elsewhere' })).toBeUndefined();
    expect(allowedBy(namespaced, { verb: 'list', group: '', resource: 'pods' })).toBeUndefined();
    expect(allowedBy(namespaced, { verb: 'list', group: '', resource: 'pods', namespace: APP_NS })).toBeDefined();
    const certManager = chartRbac(mergeValues(readValues(), { tls: { mode: 'certManager' } }), RELEASE, OPERATOR_NS);
    expect(permissions(certManager).some((p) => /secrets|mutatingwebhookconfigurations/.test(p.key))).toBe(false);
  });
});
