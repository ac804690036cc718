import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiCall, apiCallOf, describeCall, FakeKubeApiServer, PROFILING_SESSIONS, writeKubeconfig, type KubeObject } from '../fake-kube/index.js';
import { FakeAgent } from '../harness/fake-agent.js';
import { eventually, missingBuild, startOperator, stopAll } from '../e2e/processes.js';
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
const AWAITING: Record<string, string> = {
  'authorization.k8s.io/subjectaccessreviews create': 'apiauth: people on the API (--auth kubernetes)',
  'admissionregistration.k8s.io/mutatingwebhookconfigurations get': 'webhook: caBundle patch (--tls-secret)',
  'admissionregistration.k8s.io/mutatingwebhookconfigurations patch': 'webhook: caBundle patch (--tls-secret)',
  'core/secrets create': 'webhook: the TLS Secret (--tls-secret)',
  'core/secrets get': 'webhook: the TLS Secret (--tls-secret)',
  'core/secrets update': 'webhook: the TLS Secret (--tls-secret)',
};

interface Ctx {
  fake: FakeKubeApiServer;
  url: string;
  agentUrl: string;
  namespace: string;
  /** Agents stay connected until the scenario ends, so sessions find a pod to run on. */
  agents: FakeAgent[];
}

type Step = (ctx: Ctx) => Promise<void>;

const sessionStatus = (fake: FakeKubeApiServer, ns: string, name: string): Record<string, unknown> | undefined =>
  (fake.store.get(PROFILING_SESSIONS, ns, name) as (KubeObject & { status?: Record<string, unknown> }) | undefined)?.status;

/** The operator's paths, each a step that waits until the operator has made its calls. */
const STEPS: Record<string, Step> = {
  /** An agent dials in with its pod's projected token (TokenReview) and stays. */
  async agentConnects({ fake, agentUrl, namespace, agents }) {
    const pod = fake.addPod({ name: 'checkout-1', namespace, labels: { app: 'checkout' } });
    const uid = pod.metadata.uid as string;
    const token = fake.tokens.issuePodToken({ name: 'checkout-1', namespace, uid });
    const agent = await FakeAgent.connect({ url: agentUrl, token, pod: { name: 'checkout-1', namespace, uid } });
    expect(agent.welcome).toBeDefined();
    agents.push(agent);
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
  /** `sonde operator` flags the chart passes for these values (the TLS ones join when that code lands). */
  args: string[];
  steps: (keyof typeof STEPS)[];
}

const SCENARIOS: Scenario[] = [
  { name: 'cluster-wide (default values)', values: {}, args: [], steps: ['agentConnects', 'sessionRuns'] },
  { name: 'one watched namespace', values: { operator: { watchNamespaces: [APP_NS] } }, args: ['--namespace', APP_NS], steps: ['agentConnects', 'sessionRuns'] },
];

const missing = missingBuild();
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sonde-rbac-'));
});

afterAll(async () => {
  await stopAll();
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
        const op = await startOperator([...scenario.args, '--data', join(home, 'data')], { KUBECONFIG: kubeconfig, POD_NAMESPACE: OPERATOR_NS });
        await eventually(async () => (await fetch(`${op.url}/readyz`)).ok || undefined, 30_000, 'operator ready');
        const ctx: Ctx = { fake, url: op.url, agentUrl: op.agentUrl, namespace: APP_NS, agents: [] };
        for (const step of scenario.steps) await STEPS[step]!(ctx);
        for (const agent of ctx.agents) await agent.close();
        await op.proc.stop();

        const calls = fake.requests.map(apiCallOf).filter((c): c is ApiCall => c !== undefined);
        expect(calls.length).toBeGreaterThan(5);
        const denied = [...new Set(calls.filter((c) => !allowedBy(rbac, c)).map(describeCall))];
        expect(denied, 'calls the chart does not allow').toEqual([]);

        const used = new Set(calls.map((c) => {
          const by = allowedBy(rbac, c)!;
          return `${by.scope} ${c.group || 'core'}/${c.subresource ? `${c.resource}/${c.subresource}` : c.resource} ${c.verb}`;
        }));
        const unused = permissions(rbac).filter((p) => !used.has(p.key) && !(p.grant in AWAITING)).map((p) => p.key);
        expect([...new Set(unused)], 'permissions no call needed').toEqual([]);
      } finally {
        await fake.stop();
      }
    });
  }

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
