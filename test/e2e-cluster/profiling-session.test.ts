import { randomBytes } from 'node:crypto';
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCrd } from '../../operator/crd/schema.js';
import { createClusterMode, loadKubeConfig, type ClusterMode } from '../../operator/kube/cluster-mode.js';
import { API_GROUP, API_VERSION, PLURAL } from '../../src/session/types.js';
import { fakeKubeConfig, FakeKubeApiServer } from '../fake-kube/index.js';
import { testLog, until } from '../operator/kube/harness.js';
import { RecordingEngine } from '../operator/kube/recording-engine.js';

/**
 * Against a real cluster whenever KUBECONFIG is set: applies the generated CRD (create, or replace if
 * present; it is left installed afterwards), works in a fresh namespace it deletes at the end, and
 * checks that the API server defaults and validates specs as the schema says and that cluster mode
 * writes the status subresource. The identity the kubeconfig grants needs to manage CRDs, namespaces,
 * profilingsessions (and their status) and events.
 *
 * `SONDE_E2E_CLUSTER=fake` runs the same suite against the in-process fake API server, to check the
 * suite itself where no cluster exists.
 */
const useFake = process.env.SONDE_E2E_CLUSTER === 'fake';
const kubeconfigPath = process.env.KUBECONFIG;
const enabled = useFake || !!kubeconfigPath;
if (!enabled) console.log('test/e2e-cluster: skipped — set KUBECONFIG to run it against a real cluster (or SONDE_E2E_CLUSTER=fake to self-check it against the fake API server)');

describe.skipIf(!enabled)('ProfilingSession on a real cluster', () => {
  let fake: FakeKubeApiServer | undefined;
  let kc: KubeConfig;
  let custom: CustomObjectsApi;
  let core: CoreV1Api;
  let cluster: ClusterMode | undefined;
  const namespace = `sonde-e2e-${randomBytes(3).toString('hex')}`;
  const g = { group: API_GROUP, version: API_VERSION, plural: PLURAL };

  beforeAll(async () => {
    if (useFake) {
      fake = await FakeKubeApiServer.start();
      kc = fakeKubeConfig(fake);
    } else {
      kc = loadKubeConfig(kubeconfigPath);
    }
    custom = kc.makeApiClient(CustomObjectsApi);
    core = kc.makeApiClient(CoreV1Api);
    // Through the untyped API on purpose: ApiextensionsV1Api re-serialises the body through its models,
    // which silently drops `default` and `x-kubernetes-*` keys of a plain-JSON schema.
    const crds = { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions' };
    const crd = buildCrd() as { metadata: { name: string } };
    try {
      await custom.createClusterCustomObject({ ...crds, body: crd });
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
      const existing = await custom.getClusterCustomObject({ ...crds, name: crd.metadata.name });
      await custom.replaceClusterCustomObject({ ...crds, name: crd.metadata.name, body: { ...crd, metadata: { ...crd.metadata, resourceVersion: existing.metadata.resourceVersion } } });
    }
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    // Served once the API server answers for the new resource (Established, on a real one).
    await until(async () => {
      try {
        await custom.listNamespacedCustomObject({ ...g, namespace });
        return true;
      } catch {
        return false;
      }
    }, 'the ProfilingSession resource to be served', 30_000);
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    await core?.deleteNamespace({ name: namespace }).catch(() => {});
    await fake?.stop();
  });

  it('stores the CRD with its defaults and CEL rules intact', async () => {
    const stored = await custom.getClusterCustomObject({ group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', name: `${PLURAL}.${API_GROUP}` });
    const duration = stored.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.duration;
    expect(duration.default).toBe('5m');
    expect(duration['x-kubernetes-validations']).toHaveLength(1);
  });

  it('defaults a minimal session as the schema says', async () => {
    const created = await custom.createNamespacedCustomObject({ ...g, namespace, body: { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'ProfilingSession', metadata: { name: 'minimal' }, spec: { request: 'GET /api/orders/:id' } } });
    const read = await custom.getNamespacedCustomObject({ ...g, namespace, name: 'minimal' });
    expect(read.metadata.uid).toBe(created.metadata.uid);
    expect(read.metadata.generation).toBe(1);
    expect(read.spec).toMatchObject({ request: 'GET /api/orders/:id', requests: 100, duration: '5m', sampleInterval: '10ms' });
  });

  it.each([
    ['requests out of range', { request: 'GET /', requests: 10_001 }],
    ['duration over an hour (CEL rule)', { request: 'GET /', duration: '2h' }],
    ['interval under 1ms (CEL rule)', { request: 'GET /', sampleInterval: '500us' }],
    ['a bare number as duration', { request: 'GET /', duration: '5' }],
    ['no request', { requests: 5 }],
  ])('refuses %s', async (_name, spec) => {
    await expect(custom.createNamespacedCustomObject({ ...g, namespace, body: { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'ProfilingSession', metadata: { generateName: 'bad-' }, spec } })).rejects.toMatchObject({ code: 422 });
  });

  it('cluster mode applies the session and writes its status subresource', async () => {
    const engine = new RecordingEngine();
    cluster = createClusterMode({ kubeConfig: kc, log: testLog(), namespace });
    cluster.startSessionController(engine);
    await until(() => cluster!.ready(), 'cluster mode ready', 30_000);
    const created = await custom.createNamespacedCustomObject({ ...g, namespace, body: { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'ProfilingSession', metadata: { name: 'watched' }, spec: { request: 'GET /x', requests: 5, selector: { matchLabels: { app: 'web' } } } } });
    await until(() => engine.applies(created.metadata.uid).length > 0, 'the controller to apply it', 30_000);
    let read: any;
    await until(async () => {
      read = await custom.getNamespacedCustomObject({ ...g, namespace, name: 'watched' });
      return read.status?.observedGeneration === 1;
    }, 'the status to be written', 30_000);
    expect(read.status).toMatchObject({ phase: 'Pending', progress: '0/5', requestsProfiled: 0, selector: 'app=web', observedGeneration: 1 });
    expect(read.metadata.generation).toBe(1);
  });
});
