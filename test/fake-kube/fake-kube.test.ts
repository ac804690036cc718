import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, Watch } from '@kubernetes/client-node';
import { fakeKubeConfig, FakeKubeApiServer } from './index.js';

/** The fake, spoken to through client-node over loopback HTTP: the protocol the operator relies on. */
describe('fake kube-apiserver', () => {
  let fake: FakeKubeApiServer;
  let custom: CustomObjectsApi;
  let core: CoreV1Api;
  const G = { group: 'sonde.dev', version: 'v1alpha1', plural: 'profilingsessions' };

  beforeAll(async () => {
    fake = await FakeKubeApiServer.start({ bookmarkIntervalMs: 50 });
    const kc = fakeKubeConfig(fake);
    custom = kc.makeApiClient(CustomObjectsApi);
    core = kc.makeApiClient(CoreV1Api);
  });
  afterAll(() => fake.stop());

  const watchLines = (path: string, query: Record<string, string | boolean>) => {
    const events: { type: string; object: any }[] = [];
    let ended: unknown = 'open';
    const watch = new Watch(fakeKubeConfig(fake));
    const ctl = watch.watch(path, query, (type, object) => events.push({ type, object }), (err) => (ended = err));
    return { events, ended: () => ended, abort: async () => (await ctl).abort() };
  };
  const until = async (cond: () => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + 5000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  it('refuses a client without the token', async () => {
    const res = await fetch(`${fake.url}/api/v1/pods`);
    expect(res.status).toBe(401);
  });

  it('creates with defaults from the CRD schema, refuses invalid specs with 422', async () => {
    const created = await custom.createNamespacedCustomObject({ ...G, namespace: 'team', body: { apiVersion: 'sonde.dev/v1alpha1', kind: 'ProfilingSession', metadata: { name: 's1' }, spec: { request: 'GET /a' }, status: { phase: 'Completed' } } });
    expect(created.spec).toEqual({ request: 'GET /a', requests: 100, duration: '5m', sampleInterval: '10ms', selector: {} });
    expect(created.status).toBeUndefined(); // status is the controller's to write
    expect(created.metadata.generation).toBe(1);
    await expect(custom.createNamespacedCustomObject({ ...G, namespace: 'team', body: { metadata: { name: 's2' }, spec: { request: 'GET /a', requests: 0 } } })).rejects.toMatchObject({ code: 422 });
  });

  it('status writes do not bump generation; spec edits do; stale resourceVersions get 409', async () => {
    const s = await custom.getNamespacedCustomObject({ ...G, namespace: 'team', name: 's1' });
    const withStatus = await custom.patchNamespacedCustomObjectStatus(
      { ...G, namespace: 'team', name: 's1', body: { metadata: { resourceVersion: s.metadata.resourceVersion }, status: { phase: 'Running', progress: '0/100' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(withStatus.status.phase).toBe('Running');
    expect(withStatus.metadata.generation).toBe(1);
    // The same stale resourceVersion again: conflict.
    await expect(
      custom.patchNamespacedCustomObjectStatus({ ...G, namespace: 'team', name: 's1', body: { metadata: { resourceVersion: s.metadata.resourceVersion }, status: { phase: 'Failed' } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)),
    ).rejects.toMatchObject({ code: 409 });
    // A spec edit through the main resource (JSON patch) bumps generation and keeps the status.
    const edited = await custom.patchNamespacedCustomObject({ ...G, namespace: 'team', name: 's1', body: [{ op: 'replace', path: '/spec/requests', value: 7 }, { op: 'replace', path: '/status/phase', value: 'Failed' }] });
    expect(edited.spec.requests).toBe(7);
    expect(edited.metadata.generation).toBe(2);
    expect(edited.status.phase).toBe('Running');
    // A uid precondition that does not hold is a conflict.
    await expect(
      custom.patchNamespacedCustomObjectStatus({ ...G, namespace: 'team', name: 's1', body: { metadata: { uid: 'someone-else' }, status: { phase: 'Failed' } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)),
    ).rejects.toMatchObject({ code: 409 });
  });

  it('lists with a resourceVersion and watches from it, with selectors and bookmarks', async () => {
    fake.addPod({ name: 'web-1', namespace: 'shop', labels: { app: 'web' } });
    fake.addPod({ name: 'db-1', namespace: 'shop', labels: { app: 'db' } });
    const list = await core.listNamespacedPod({ namespace: 'shop', labelSelector: 'app in (web)' });
    expect(list.items.map((p) => p.metadata?.name)).toEqual(['web-1']);
    const rv = list.metadata!.resourceVersion!;
    const w = watchLines('/api/v1/namespaces/shop/pods', { resourceVersion: rv, labelSelector: 'app=web', allowWatchBookmarks: true });
    await until(() => fake.watchCount('pods') === 1, 'watch');
    fake.addPod({ name: 'web-2', namespace: 'shop', labels: { app: 'web' } });
    fake.addPod({ name: 'db-2', namespace: 'shop', labels: { app: 'db' } });
    // Relabelled out of the selector: the watcher sees DELETED.
    const web1 = fake.store.get(fake.resource('pods'), 'shop', 'web-1')!;
    fake.store.update(fake.resource('pods'), 'shop', 'web-1', { ...web1, metadata: { ...web1.metadata, labels: { app: 'old' } } });
    await until(() => w.events.some((e) => e.type === 'BOOKMARK'), 'bookmark');
    const changes = w.events.filter((e) => e.type !== 'BOOKMARK').map((e) => `${e.type} ${e.object.metadata.name}`);
    expect(changes).toEqual(['ADDED web-2', 'DELETED web-1']);
    await w.abort();
  });

  it('answers a watch from a compacted resourceVersion with ERROR 410 Expired', async () => {
    const list = await core.listNamespacedPod({ namespace: 'shop' });
    fake.addPod({ name: 'web-3', namespace: 'shop' });
    fake.compact();
    const w = watchLines('/api/v1/namespaces/shop/pods', { resourceVersion: list.metadata!.resourceVersion! });
    await until(() => w.ended() !== 'open', 'the watch to end');
    expect(w.events).toEqual([{ type: 'ERROR', object: expect.objectContaining({ code: 410, reason: 'Expired' }) }]);
  });

  it('breaks watches on demand and injects faults', async () => {
    const w = watchLines('/api/v1/pods', {});
    await until(() => fake.watchCount('pods') === 1, 'watch');
    expect(fake.breakWatches()).toBe(1);
    await until(() => w.ended() !== 'open', 'the watch to end');
    fake.failNext({ method: 'GET', path: '/api/v1/namespaces/x/pods', code: 500 });
    await expect(core.listNamespacedPod({ namespace: 'x' })).rejects.toMatchObject({ code: 500 });
    await expect(core.listNamespacedPod({ namespace: 'x' })).resolves.toMatchObject({ items: [] });
  });

  it('reviews tokens: pod claims, audiences, unknown tokens', async () => {
    const auth = fakeKubeConfig(fake).makeApiClient(AuthenticationV1Api);
    const token = fake.tokens.issuePodToken({ name: 'web-1', namespace: 'shop', uid: 'u-1' });
    const ok = await auth.createTokenReview({ body: { spec: { token, audiences: ['sonde'] } } });
    expect(ok.status?.authenticated).toBe(true);
    expect(ok.status?.user?.extra?.['authentication.kubernetes.io/pod-name']).toEqual(['web-1']);
    const wrongAudience = await auth.createTokenReview({ body: { spec: { token, audiences: ['vault'] } } });
    expect(wrongAudience.status?.authenticated).toBeFalsy();
    const unknown = await auth.createTokenReview({ body: { spec: { token: 'nope', audiences: ['sonde'] } } });
    expect(unknown.status?.authenticated).toBeFalsy();
    expect(unknown.status?.error).toMatch(/invalid bearer token/);
  });
});
