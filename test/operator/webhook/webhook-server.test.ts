import { request as httpsRequest } from 'node:https';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTlsMaterial } from '../../../operator/tls/certificates.js';
import { servingNames, type TlsMaterial } from '../../../operator/tls/tls-material.js';
import type { InjectionSettings } from '../../../operator/webhook/pod-mutator.js';
import { startWebhookServer, type WebhookServer } from '../../../operator/webhook/webhook-server.js';
import { testLog } from '../kube/harness.js';
import { applyResponse, fixture, httpsCall, reviewOf } from './webhook-harness.js';

/**
 * The admission webhook through its real HTTPS server: recorded-style AdmissionReviews in, the JSON
 * Patch applied with fast-json-patch, and the resulting pod checked as the kubelet would run it.
 */

let tls: TlsMaterial;
let server: WebhookServer;
const settings: InjectionSettings = {
  version: '0.1.0',
  agentImage: 'ghcr.io/example/sonde:0.1.0',
  agentUrl: 'wss://sonde.sonde-system.svc:7070/v1/agents',
  caCert: '',
  skipNamespaces: ['sonde-system', 'kube-system'],
};

beforeAll(async () => {
  tls = makeTlsMaterial(servingNames('sonde', 'sonde-system'), Date.now());
  settings.caCert = tls.ca;
  server = await startWebhookServer({ port: 0, host: '127.0.0.1', tls, settings: () => settings, log: testLog(), bodyLimitBytes: 256 * 1024 });
});
afterAll(async () => server?.close());

const ask = (review: unknown) => httpsCall({ port: server.port, ca: tls.ca, servername: 'sonde.sonde-system.svc', body: JSON.stringify(review) });

async function mutate(name: string | Record<string, any>) {
  const review = typeof name === 'string' ? fixture(name) : name;
  const answer = await ask(review);
  expect(answer.status).toBe(200);
  expect(answer.json.apiVersion).toBe('admission.k8s.io/v1');
  expect(answer.json.kind).toBe('AdmissionReview');
  const response = answer.json.response;
  expect(response.uid).toBe(review.request.uid);
  expect(response.allowed).toBe(true);
  return { review, response, ...applyResponse(review, response) };
}

const envOf = (c: any): Record<string, any> => Object.fromEntries((c.env ?? []).map((e: any) => [e.name, e.value ?? e.valueFrom]));

function expectRestrictedInit(pod: any, runtime: 'node' | 'python'): void {
  const init = pod.spec.initContainers.find((c: any) => c.name === 'sonde-agent');
  expect(init.image).toBe(settings.agentImage);
  expect(init.command).toBeUndefined(); // the image's ENTRYPOINT (node cli.js), no shell
  expect(init.args).toEqual(['agent-bundle', '--runtime', runtime, '/sonde/agent']);
  expect(init.volumeMounts).toEqual([{ name: 'sonde-agent', mountPath: '/sonde/agent' }]);
  // Pod Security "restricted", container level (the pod's own securityContext is the user's).
  const sc = init.securityContext;
  expect(sc.runAsNonRoot).toBe(true);
  expect(sc.runAsUser).toBe(65532);
  expect(sc.allowPrivilegeEscalation).toBe(false);
  expect(sc.capabilities).toEqual({ drop: ['ALL'] });
  expect(sc.readOnlyRootFilesystem).toBe(true);
  expect(sc.seccompProfile).toEqual({ type: 'RuntimeDefault' });
  expect(sc.privileged).toBeUndefined();
  expect(init.resources.requests).toEqual({ cpu: '10m', memory: '32Mi' });
  expect(init.resources.limits).toEqual({ cpu: '500m', memory: '128Mi' });
}

function expectVolumes(pod: any): void {
  const agent = pod.spec.volumes.find((v: any) => v.name === 'sonde-agent');
  expect(agent.emptyDir).toBeDefined();
  const token = pod.spec.volumes.find((v: any) => v.name === 'sonde-token');
  expect(token.projected.sources).toEqual([{ serviceAccountToken: { audience: 'sonde', expirationSeconds: 3600, path: 'token' } }]);
}

function expectAppWired(c: any): void {
  expect(c.volumeMounts).toEqual(expect.arrayContaining([
    { name: 'sonde-agent', mountPath: '/sonde/agent', readOnly: true },
    { name: 'sonde-token', mountPath: '/var/run/secrets/sonde', readOnly: true },
  ]));
  const env = envOf(c);
  expect(env.POD_NAME).toEqual({ fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } });
  expect(env.POD_NAMESPACE).toEqual({ fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } });
  expect(env.POD_UID).toEqual({ fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.uid' } });
  expect(env.SONDE_URL).toBe(settings.agentUrl);
  expect(env.SONDE_TOKEN_FILE).toBe('/var/run/secrets/sonde/token');
  expect(env.SONDE_CA_CERT).toBe(tls.ca);
}

describe('the admission webhook over HTTPS', () => {
  it("injects a Deployment's template pod (generateName, no name, namespace only in the request)", async () => {
    const { pod, review } = await mutate('deployment-pod');
    expect(pod.metadata.annotations['sonde.dev/injected']).toBe('0.1.0');
    expect(pod.metadata.annotations['kubectl.kubernetes.io/restartedAt']).toBe('2026-12-01T09:12:44Z');
    expect(pod.metadata.labels).toEqual({ ...review.request.object.metadata.labels, 'sonde.dev/agent': 'node' });
    expect(pod.metadata.name).toBeUndefined();
    expectRestrictedInit(pod, 'node');
    expectVolumes(pod);
    // The ServiceAccount admission's own volume and mount are kept, ours come after.
    expect(pod.spec.volumes[0].name).toBe('kube-api-access-x7k2q');
    const app = pod.spec.containers[0];
    expectAppWired(app);
    expect(app.volumeMounts[0].name).toBe('kube-api-access-x7k2q');
    const env = envOf(app);
    expect(env.NODE_OPTIONS).toBe('--require /sonde/agent/preload.cjs');
    expect(env.PORT).toBe('8080');
    expect(env.DB_HOST).toBe('postgres.shop.svc');
  });

  it('injects a bare pod with no env, no volumes and no init containers', async () => {
    const { pod } = await mutate('bare-pod');
    expect(pod.metadata.name).toBe('scratch');
    expectRestrictedInit(pod, 'node');
    expectVolumes(pod);
    expect(pod.spec.volumes).toHaveLength(2);
    expect(pod.spec.initContainers).toHaveLength(1);
    expectAppWired(pod.spec.containers[0]);
    expect(pod.spec.containers[0].args).toEqual(['node', 'server.js']);
  });

  it('appends to a literal NODE_OPTIONS, keeping its place and flags', async () => {
    const { pod, review } = await mutate('node-options-literal');
    const before = review.request.object.spec.containers[0].env;
    const after = pod.spec.containers[0].env;
    expect(after[1]).toEqual({ name: 'NODE_OPTIONS', value: '--max-old-space-size=512 --enable-source-maps --require /sonde/agent/preload.cjs' });
    expect(after.filter((e: any) => e.name === 'NODE_OPTIONS')).toHaveLength(1);
    expect(after.slice(0, before.length).map((e: any) => e.name)).toEqual(before.map((e: any) => e.name));
    expectAppWired(pod.spec.containers[0]);
  });

  it('leaves a pod whose NODE_OPTIONS comes from valueFrom alone, and says so', async () => {
    const { pod, response, ops, review } = await mutate('node-options-valuefrom');
    expect(ops).toHaveLength(1);
    expect(pod.metadata.annotations['sonde.dev/injection-skipped']).toMatch(/NODE_OPTIONS of container checkout comes from valueFrom/);
    expect(pod.metadata.annotations['sonde.dev/injected']).toBeUndefined();
    expect(pod.spec).toEqual(review.request.object.spec);
    expect(response.warnings[0]).toMatch(/not injected/);
  });

  it('injects the container sonde.dev/container names, and only that one', async () => {
    const { pod, review } = await mutate('several-containers');
    const [envoy, checkout, shipper] = pod.spec.containers;
    expect(envoy).toEqual(review.request.object.spec.containers[0]);
    expect(shipper).toEqual(review.request.object.spec.containers[2]);
    expectAppWired(checkout);
    expect(envOf(checkout).NODE_OPTIONS).toBe('--require /sonde/agent/preload.cjs');
    // The pod's own init container still runs, and ours is added after it.
    expect(pod.spec.initContainers.map((c: any) => c.name)).toEqual(['migrate', 'sonde-agent']);
    expectRestrictedInit(pod, 'node');
  });

  it('skips with a reason when sonde.dev/container names a missing container', async () => {
    const { pod, review } = await mutate('missing-container');
    expect(pod.metadata.annotations['sonde.dev/injection-skipped']).toBe('no container named "api" (sonde.dev/container)');
    expect(pod.spec).toEqual(review.request.object.spec);
    expect(pod.metadata.labels['sonde.dev/agent']).toBeUndefined();
  });

  it('is idempotent: an injected pod reviewed again (reinvocation) gets no patch', async () => {
    for (const name of ['deployment-pod', 'bare-pod', 'node-options-literal', 'several-containers', 'python-pod']) {
      const first = await mutate(name);
      const second = await mutate(reviewOf(first.review, first.pod));
      expect(second.response.patch, name).toBeUndefined();
      expect(second.pod, name).toEqual(first.pod);
    }
    // A skipped pod reviewed again is unchanged too (its reason is already written).
    const skipped = await mutate('missing-container');
    const again = await mutate(reviewOf(skipped.review, skipped.pod));
    expect(again.response.patch).toBeUndefined();
  });

  it("never touches kube-system or the operator's own namespace", async () => {
    const ks = await mutate('kube-system-pod');
    expect(ks.response.patch).toBeUndefined();
    const own = fixture('bare-pod');
    own.request.namespace = 'sonde-system';
    own.request.object.metadata.namespace = 'sonde-system';
    const r = await mutate(own);
    expect(r.response.patch).toBeUndefined();
  });

  it('leaves pods without sonde.dev/inject alone', async () => {
    const { response } = await mutate('not-annotated');
    expect(response.patch).toBeUndefined();
    expect(response.status).toBeUndefined();
  });

  it('the python flavour: PYTHONPATH prepended, the python bundle, label python', async () => {
    const { pod } = await mutate('python-pod');
    expectRestrictedInit(pod, 'python');
    expectVolumes(pod);
    const app = pod.spec.containers[0];
    expectAppWired(app);
    const env = envOf(app);
    expect(env.PYTHONPATH).toBe('/sonde/agent/python:/app/src');
    expect(env.NODE_OPTIONS).toBeUndefined();
    expect(env.DJANGO_SETTINGS_MODULE).toBe('orders.settings');
    expect(pod.metadata.labels['sonde.dev/agent']).toBe('python');
  });

  it('an unknown runtime is skipped with the accepted values named', async () => {
    const review = fixture('bare-pod');
    review.request.object.metadata.annotations['sonde.dev/inject'] = 'java';
    const { pod } = await mutate(review);
    expect(pod.metadata.annotations['sonde.dev/injection-skipped']).toBe('sonde.dev/inject must be one of node, python, got "java"');
  });
});

describe('malformed reviews: a clear error, allowed, nothing patched', () => {
  const cases: [string, string | Buffer, RegExp][] = [
    ['not JSON', '{"apiVersion": "admission.k8s.io/v1", ', /the body is not JSON/],
    ['an array', '[1,2,3]', /not a JSON object/],
    ['another API version', JSON.stringify({ ...fixture('bare-pod'), apiVersion: 'admission.k8s.io/v1beta1' }), /expected apiVersion admission\.k8s\.io\/v1/],
    ['no request', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), /no request/],
    ['no uid', JSON.stringify((() => { const r = fixture('bare-pod'); delete r.request.uid; return r; })()), /request\.uid/],
    ['a uid that is not a UID', JSON.stringify((() => { const r = fixture('bare-pod'); r.request.uid = '<script>'.repeat(20); return r; })()), /request\.uid/],
    ['a Deployment instead of a Pod', JSON.stringify((() => { const r = fixture('bare-pod'); r.request.kind = { group: 'apps', version: 'v1', kind: 'Deployment' }; return r; })()), /mutates core\/v1 Pods/],
    ['no namespace', JSON.stringify((() => { const r = fixture('bare-pod'); delete r.request.namespace; return r; })()), /namespace/],
  ];
  for (const [what, body, message] of cases) {
    it(what, async () => {
      const answer = await httpsCall({ port: server.port, ca: tls.ca, body });
      expect(answer.status).toBe(200);
      expect(answer.json.response.allowed).toBe(true);
      expect(answer.json.response.patch).toBeUndefined();
      expect(answer.json.response.status.message).toMatch(/^sonde: malformed AdmissionReview: /);
      expect(answer.json.response.status.message).toMatch(message);
      expect(answer.json.response.uid.length).toBeLessThanOrEqual(64);
    });
  }

  it('a pod whose parts have the wrong types is skipped with a reason, never a crash', async () => {
    const weird = fixture('bare-pod');
    weird.request.object.spec.containers[0].env = 'NODE_OPTIONS=--inspect';
    const { pod } = await mutate(weird);
    expect(pod.metadata.annotations['sonde.dev/injection-skipped']).toBe('container scratch has a malformed env');
    const noSpec = fixture('bare-pod');
    noSpec.request.object = { metadata: { annotations: { 'sonde.dev/inject': 'node' } }, spec: 'x' };
    expect((await mutate(noSpec)).response.patch).toBeUndefined();
  });

  it('other operations are allowed unchanged', async () => {
    const del = fixture('bare-pod');
    del.request.operation = 'UPDATE';
    expect((await mutate(del)).response.patch).toBeUndefined();
  });
});

describe('the HTTP shell', () => {
  it('POST only, JSON only, on one path', async () => {
    expect((await httpsCall({ port: server.port, ca: tls.ca, method: 'GET' })).status).toBe(405);
    expect((await httpsCall({ port: server.port, ca: tls.ca, path: '/mutate', body: '{}' })).status).toBe(404);
    expect((await httpsCall({ port: server.port, ca: tls.ca, contentType: 'text/plain', body: '{}' })).status).toBe(415);
  });

  it('refuses a body over the limit without reading it all, and keeps serving', async () => {
    const big = Buffer.alloc(300 * 1024, 0x20);
    const answer = await httpsCall({ port: server.port, ca: tls.ca, body: big });
    expect(answer.status).toBe(413);
    const chunked = await new Promise<number>((resolve, reject) => {
      // No content-length: the limit is enforced while reading.
      const req = httpsRequest({ host: '127.0.0.1', port: server.port, method: 'POST', path: '/mutate-v1-pod', ca: tls.ca, servername: 'localhost', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res: any) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', reject);
      for (let i = 0; i < 40; i++) req.write(Buffer.alloc(8 * 1024, 0x20));
      req.end();
    });
    expect(chunked).toBe(413);
    expect((await mutate('bare-pod')).response.patch).toBeDefined();
  });

  it('a client that sends nothing is cut off by the headers timeout', async () => {
    const slow = await startWebhookServer({ port: 0, host: '127.0.0.1', tls, settings: () => settings, log: testLog(), requestTimeoutMs: 1000 });
    try {
      const started = Date.now();
      const ended = await new Promise<number>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port: slow.port, ca: tls.ca, servername: 'localhost' }, () => s.write('POST /mutate-v1-pod HTTP/1.1\r\nhost: x\r\n'));
        s.on('error', reject);
        s.on('data', () => {});
        s.on('close', () => resolve(Date.now() - started));
      });
      // Cut off by the 1 s headers timeout (checked each second), far from Node's 30 s default.
      expect(ended).toBeLessThan(10_000);
    } finally {
      await slow.close();
    }
  });

  it('serves a renewed certificate to new connections', async () => {
    const next = makeTlsMaterial(servingNames('sonde', 'sonde-system'), Date.now());
    server.setTls(next);
    await expect(httpsCall({ port: server.port, ca: tls.ca, body: '{}' })).rejects.toThrow();
    const answer = await httpsCall({ port: server.port, ca: next.ca, body: '{}' });
    expect(answer.json.response.allowed).toBe(true);
    server.setTls(tls);
  });
});

describe('what anyone who reaches the port can try', () => {
  it('a flood of malformed reviews is answered every time but logged at most once per 10 s, with a count', async () => {
    const lines: string[] = [];
    const { pino } = await import('pino');
    const { Writable } = await import('node:stream');
    const log = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
    let t = 1_000_000;
    const s = await startWebhookServer({ port: 0, host: '127.0.0.1', tls, settings: () => settings, log, now: () => t });
    try {
      for (let i = 0; i < 50; i++) {
        const a = await httpsCall({ port: s.port, ca: tls.ca, body: JSON.stringify({ request: { namespace: 'x'.repeat(100_000) } }) });
        expect(a.json.response.allowed).toBe(true);
      }
      t += 10_001;
      await httpsCall({ port: s.port, ca: tls.ca, body: 'nope' });
      const warnings = lines.filter((l) => l.includes('malformed admission review'));
      expect(warnings).toHaveLength(2);
      expect(JSON.parse(warnings[1]!).suppressed).toBe(49);
      // What the sender controls reaches the log only when short.
      expect(lines.join('').length).toBeLessThan(5_000);
    } finally {
      await s.close();
    }
  });

  it('a hostile container name is neither a path nor a flood: the patch addresses by index, the reason is bounded', async () => {
    const review = fixture('bare-pod');
    review.request.object.spec.containers[0].name = '../../spec/initContainers~1/-' + 'x'.repeat(10_000);
    review.request.object.metadata.annotations['sonde.dev/container'] = review.request.object.spec.containers[0].name;
    const { pod, ops } = await mutate(review);
    expect(ops.every((o: any) => !o.path.includes('..'))).toBe(true);
    expect(pod.spec.initContainers.map((c: any) => c.name)).toEqual(['sonde-agent']);
    const bad = fixture('bare-pod');
    bad.request.object.metadata.annotations['sonde.dev/container'] = 'y'.repeat(10_000);
    const skipped = await mutate(bad);
    expect(skipped.pod.metadata.annotations['sonde.dev/injection-skipped'].length).toBeLessThan(200);
  });
});
