import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { CHART, chartRbac, mergeValues, readValues, type PolicyRule, type Values } from './chart-files.js';

/**
 * The chart through the real tools, where they are: `helm lint` and `helm template` with every values
 * file under test/chart/values/ when `helm` is on PATH; with `KUBECONFIG` too, the rendered chart goes
 * through the API server's own validation (`kubectl apply --dry-run=server`), and with
 * `SONDE_E2E_IMAGE` (the image, pullable by the cluster) a real install injects a labelled namespace's
 * pods. Each block says why it was skipped otherwise.
 */
const onPath = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const HELM = onPath('helm');
const CLUSTER = HELM && onPath('kubectl') && Boolean(process.env.KUBECONFIG);
const IMAGE = process.env.SONDE_E2E_IMAGE;
const VALUES_DIR = join(import.meta.dirname, 'values');
const VALUES_FILES = readdirSync(VALUES_DIR).filter((f) => f.endsWith('.yaml'));
const NS = 'sonde-system';

if (!HELM) console.warn('test/chart/helm.test.ts: helm is not on PATH — lint and template skipped (the chart is still checked without helm in values.test.ts and rbac.test.ts)');
if (HELM && !CLUSTER) console.warn('test/chart/helm.test.ts: KUBECONFIG is not set — server-side dry run skipped');

interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  [k: string]: unknown;
}

function template(valuesFile?: string, extra: string[] = []): K8sObject[] {
  const args = ['template', 'sonde', CHART, '--namespace', NS, ...(valuesFile ? ['-f', join(VALUES_DIR, valuesFile)] : []), ...extra];
  return parseAllDocuments(execFileSync('helm', args, { encoding: 'utf8' }))
    .map((d) => d.toJSON() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

describe.skipIf(!HELM)('helm lint and template', () => {
  it.each([undefined, ...VALUES_FILES])('lints with %s', (file) => {
    execFileSync('helm', ['lint', '--strict', CHART, ...(file ? ['-f', join(VALUES_DIR, file)] : [])], { encoding: 'utf8' });
  });

  it.each([undefined, ...VALUES_FILES])('renders with %s the RBAC that rbac.test.ts checked, and the contract flags', (file) => {
    const objects = template(file);
    const values = mergeValues(readValues(), file ? (parse(readFileSync(join(VALUES_DIR, file), 'utf8')) as Values) : {});
    const expected = chartRbac(values, 'sonde', NS);
    const rules = (kind: string, ns?: string): PolicyRule[] =>
      objects.filter((o) => o.kind === kind && (ns === undefined || o.metadata.namespace === ns)).flatMap((o) => (o.rules as PolicyRule[]) ?? []);
    expect(rules('ClusterRole')).toEqual(expected.cluster);
    for (const [ns, r] of expected.namespaced) expect(rules('Role', ns)).toEqual(r);
    expect(objects.filter((o) => o.kind === 'Role').length).toBe(expected.namespaced.size);

    const deploy = objects.find((o) => o.kind === 'Deployment')!;
    const container = (deploy as unknown as { spec: { template: { spec: { containers: { args: string[]; image: string }[] } } } }).spec.template.spec.containers[0]!;
    expect(container.args[0]).toBe('operator');
    expect(container.args).toContain(`--auth=${(values.operator as Values).auth as string}`);
    if ((values.webhook as Values).enabled) expect(container.args).toContain(`--agent-image=${container.image}`);
    const tlsMode = (values.tls as Values).mode;
    expect(container.args.some((a) => a.startsWith('--tls-secret='))).toBe(tlsMode === 'secret');
    expect(container.args).toContain(tlsMode === 'certManager' ? '--tls-cert-dir=/etc/sonde/tls' : `--data=/var/lib/sonde`);
    expect(objects.some((o) => o.kind === 'Certificate')).toBe(tlsMode === 'certManager');
  });

  it.each([
    ['operator.auth=none'],
    ['operator.watchNamespaces={a,b}'],
    ['webhook.timeoutSeconds=30'],
    ['tls.mode=none'],
  ])('refuses --set %s', (set) => {
    const r = spawnSync('helm', ['template', 'sonde', CHART, '--namespace', NS, '--set', set], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/values don't meet the specifications of the schema|schema/);
  });
});

describe.skipIf(!CLUSTER)('the rendered chart against a real API server', () => {
  it('passes server-side validation (kubectl apply --dry-run=server)', () => {
    execFileSync('kubectl', ['apply', '--dry-run=server', '-f', join(CHART, 'crds')], { encoding: 'utf8' });
    const rendered = execFileSync('helm', ['template', 'sonde', CHART, '--namespace', 'default'], { encoding: 'utf8' });
    execFileSync('kubectl', ['apply', '--dry-run=server', '-n', 'default', '-f', '-'], { input: rendered, encoding: 'utf8' });
  });

  it.skipIf(!IMAGE)('injects the pods of a labelled namespace (needs SONDE_E2E_IMAGE)', () => {
    const suffix = Date.now().toString(36);
    const opNs = `sonde-e2e-${suffix}`;
    const appNs = `shop-e2e-${suffix}`;
    const [repository, tag] = IMAGE!.split(/:(?=[^/:]+$)/);
    const kubectl = (...args: string[]): string => execFileSync('kubectl', args, { encoding: 'utf8' });
    try {
      execFileSync('helm', ['install', 'sonde', CHART, '-n', opNs, '--create-namespace', '--wait', '--timeout', '3m', '--set', `image.repository=${repository}`, '--set', `image.tag=${tag ?? 'latest'}`, '--set', 'persistence.enabled=false'], { encoding: 'utf8' });
      kubectl('create', 'namespace', appNs);
      kubectl('label', 'namespace', appNs, 'sonde.dev/injection=enabled');
      kubectl('create', 'deployment', 'shop', '-n', appNs, `--image=${IMAGE}`, '--', 'node', '/app/dist/operator/cli.js', 'sample-app', '--host', '0.0.0.0');
      kubectl('patch', 'deployment', 'shop', '-n', appNs, '-p', JSON.stringify({ spec: { template: { metadata: { annotations: { 'sonde.dev/inject': 'node' } } } } }));
      kubectl('rollout', 'status', 'deployment/shop', '-n', appNs, '--timeout=3m');
      const pods = JSON.parse(kubectl('get', 'pods', '-n', appNs, '-l', 'app=shop', '-o', 'json')) as { items: { metadata: { annotations?: Record<string, string> }; spec: { initContainers?: { name: string }[] } }[] };
      const live = pods.items.filter((p) => p.metadata.annotations?.['sonde.dev/injected']);
      expect(live.length).toBeGreaterThan(0);
      expect(live[0]!.spec.initContainers?.map((c) => c.name)).toContain('sonde-agent');
    } finally {
      spawnSync('helm', ['uninstall', 'sonde', '-n', opNs]);
      spawnSync('kubectl', ['delete', 'namespace', appNs, opNs, '--wait=false']);
    }
  }, 600_000);
});
