import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Engine } from '../../../operator/engine/engine.js';
import { createClusterMode, type ClusterMode } from '../../../operator/kube/cluster-mode.js';
import type { SqliteStore } from '../../../operator/store/sqlite-store.js';
import type { PodIdentity } from '../../../src/protocol/messages.js';
import { EVENTS, fakeKubeConfig, FakeKubeApiServer, PROFILING_SESSIONS, type KubeObject } from '../../fake-kube/index.js';
import { FakeAgent, fakeRequest } from '../../harness/fake-agent.js';
import { startHub, type HubServer } from '../hub/hub-server.js';
import { openStore, tempDir } from '../store/store-fixtures.js';
import { testLog, until } from './harness.js';

/**
 * Cluster mode with the real engine, hub and store, wired as operator/main.ts wires them, against the
 * fake API server over loopback: pods and tokens from the "cluster", agents dialling in with their pod
 * tokens, a ProfilingSession applied with the API. Checks the path from object to agents to status.
 */
describe('cluster mode with the real engine, hub and store', () => {
  let fake: FakeKubeApiServer;
  let cluster: ClusterMode;
  let hub: HubServer;
  let store: SqliteStore;
  let engine: Engine;
  let tmp: ReturnType<typeof tempDir>;
  const agents: FakeAgent[] = [];

  beforeEach(async () => {
    tmp = tempDir();
    fake = await FakeKubeApiServer.start();
    cluster = createClusterMode({ kubeConfig: fakeKubeConfig(fake), log: testLog() });
    hub = await startHub({ authenticator: cluster.authenticator });
    store = openStore(join(tmp.dir, 'sonde.db'));
    engine = new Engine({ hub: hub.hub, store, podDirectory: cluster.podDirectory, log: testLog(), baseURL: 'http://sonde.test' });
    await cluster.podsSynced;
    cluster.startSessionController(engine);
    await until(() => cluster.ready(), 'ready');
  });
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.close().catch(() => {})));
    await cluster.stop();
    engine.close();
    await hub.close();
    store.close();
    await fake.stop();
    tmp.cleanup();
  });

  const podIdentity = (p: KubeObject): PodIdentity => ({ name: p.metadata.name, namespace: p.metadata.namespace, uid: p.metadata.uid });
  const connect = async (pod: PodIdentity, token: string): Promise<FakeAgent> => {
    // The agent's own labels claim otherwise: in a cluster the pod's real labels must win.
    const agent = await FakeAgent.connect({ url: hub.url, token, pod, labels: { app: 'web' }, catalogue: [{ type: 'GET /a', count: 1, errors: 0, p50Ms: 1, p90Ms: 1, p99Ms: 1 }] });
    agents.push(agent);
    return agent;
  };
  const session = (name: string) => fake.store.get(PROFILING_SESSIONS, 'shop', name);

  it('profiles N requests across the pods the selector picks by their real labels, and reports it on the object', async () => {
    const web = [fake.addPod({ name: 'web-1', namespace: 'shop', labels: { app: 'web' } }), fake.addPod({ name: 'web-2', namespace: 'shop', labels: { app: 'web' } })];
    const db = fake.addPod({ name: 'db-1', namespace: 'shop', labels: { app: 'db' } });
    await until(() => cluster.podDirectory.labelsOf(podIdentity(db)) !== undefined, 'pods known');
    const [a, b] = await Promise.all(web.map((p) => connect(podIdentity(p), fake.tokens.issuePodToken(podIdentity(p)))));
    const c = await connect(podIdentity(db), fake.tokens.issuePodToken(podIdentity(db)));

    const obj = fake.createSession('shop', 'orders', { request: 'GET /a', requests: 4, selector: { matchLabels: { app: 'web' } } });
    await Promise.all([a, b].map((x) => x!.waitFor((m) => m.type === 'start' && m.session === obj.metadata.uid)));
    expect(c.startOf(obj.metadata.uid)).toBeUndefined();
    a!.report(obj.metadata.uid, [fakeRequest('GET /a', { id: 'a1' }), fakeRequest('GET /a', { id: 'a2' })]);
    b!.report(obj.metadata.uid, [fakeRequest('GET /a', { id: 'b1' }), fakeRequest('GET /a', { id: 'b2' })]);
    await until(() => session('orders')?.status?.phase === 'Completed', 'Completed on the object');
    const status = session('orders')!.status;
    expect(status).toMatchObject({ requestsProfiled: 4, progress: '4/4', observedGeneration: 1, selector: 'app=web' });
    expect(status.pods.map((p: { name: string; requests: number }) => `${p.name}:${p.requests}`).sort()).toEqual(['web-1:2', 'web-2:2']);
    expect(status.conditions.find((x: { type: string }) => x.type === 'Complete')).toMatchObject({ status: 'True', reason: 'RequestsReached' });
    await until(() => fake.store.list(EVENTS, 'shop').length >= 2, 'events');
    expect(fake.store.list(EVENTS, 'shop').map((e) => `${e.type} ${e.reason}`)).toEqual(['Normal Started', 'Normal RequestsReached']);
  });

  it('warns on the object and with an Event when no agent has reported the request type, and fails "nothing profiled" at the deadline', async () => {
    const web = fake.addPod({ name: 'web-1', namespace: 'shop', labels: { app: 'web' } });
    await until(() => cluster.podDirectory.labelsOf(podIdentity(web)) !== undefined, 'pods known');
    const a = await connect(podIdentity(web), fake.tokens.issuePodToken(podIdentity(web)));
    const obj = fake.createSession('shop', 'typo', { request: 'GET /api/order/:id', requests: 5, duration: '2s', selector: { matchLabels: { app: 'web' } } });
    await a.waitFor((m) => m.type === 'start' && m.session === obj.metadata.uid);
    await until(() => session('typo')?.status?.conditions?.some((c: { type: string }) => c.type === 'RequestTypeSeen'), 'warning on the object');
    const seen = session('typo')!.status.conditions.find((c: { type: string }) => c.type === 'RequestTypeSeen');
    expect(seen).toMatchObject({ status: 'False', reason: 'UnknownRequestType', message: expect.stringContaining('agents here reported "GET /a"') });
    await until(() => fake.store.list(EVENTS, 'shop').some((e) => e.reason === 'UnknownRequestType'), 'warning event');
    await until(() => session('typo')?.status?.phase === 'Failed', 'Failed at the deadline', 10_000);
    const complete = session('typo')!.status.conditions.find((c: { type: string }) => c.type === 'Complete');
    expect(complete).toMatchObject({ reason: 'NothingProfiled', message: expect.stringMatching(/^nothing profiled: 1 agent was sampling/) });
    await until(() => fake.store.list(EVENTS, 'shop').some((e) => e.reason === 'NothingProfiled'), 'failure event');
    expect(fake.store.list(EVENTS, 'shop').filter((e) => e.reason === 'UnknownRequestType')).toHaveLength(1);
  });

  it('refuses an agent that claims a pod its token was not issued for', async () => {
    const a = fake.addPod({ name: 'web-1', namespace: 'shop', labels: { app: 'web' } });
    const b = fake.addPod({ name: 'web-2', namespace: 'shop', labels: { app: 'web' } });
    const forged = await FakeAgent.open({ url: hub.url, token: fake.tokens.issuePodToken(podIdentity(a)), pod: podIdentity(b), catalogue: [] });
    agents.push(forged);
    expect(await forged.closed).toMatchObject({ code: 4004 });
  });

  it('a spec the CRD refuses (a bad label key) never reaches the engine; one stored under an older CRD fails with InvalidSpec and a Warning Event', async () => {
    expect(() => fake.createSession('shop', 'refused', { request: 'GET /a', selector: { matchLabels: { 'bad key': 'x' } } })).toThrow(/spec\.selector\.matchLabels: every label key must be/);
    // Helm never upgrades a chart's CRDs: a cluster may still run the CRD without the label-key rule,
    // whose API server stored this object as it was. The engine refuses it on its own.
    fake.store.create({ ...PROFILING_SESSIONS, admit: undefined }, { metadata: { name: 'bad', namespace: 'shop' }, spec: { request: 'GET /a', selector: { matchLabels: { 'bad key': 'x' } } } } as KubeObject);
    await until(() => session('bad')?.status?.phase === 'Failed', 'Failed');
    expect(session('bad')!.status.conditions.find((x: { type: string }) => x.type === 'SpecAccepted')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    await until(() => fake.store.list(EVENTS, 'shop').length === 1, 'event');
    expect(fake.store.list(EVENTS, 'shop')[0]).toMatchObject({ type: 'Warning', reason: 'InvalidSpec' });
  });
});
