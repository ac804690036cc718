import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../operator/clock.js';
import { createClusterMode, type ClusterMode } from '../../../operator/kube/cluster-mode.js';
import { KubeInformer } from '../../../operator/kube/informer.js';
import { listSessions, sessionsPath, type ProfilingSessionObject } from '../../../operator/kube/resources.js';
import { startSessionController } from '../../../operator/kube/session-controller.js';
import type { SessionView } from '../../../src/session/types.js';
import { EVENTS, fakeKubeConfig, FakeKubeApiServer, PROFILING_SESSIONS, type KubeObject } from '../../fake-kube/index.js';
import { testLog, tick, until } from './harness.js';
import { cond, RecordingEngine } from './recording-engine.js';

describe('session controller and status writer against the fake API server', () => {
  let fake: FakeKubeApiServer;
  let engine: RecordingEngine;
  let cluster: ClusterMode | undefined;

  beforeEach(async () => {
    fake = await FakeKubeApiServer.start();
    engine = new RecordingEngine();
  });
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
    await fake.stop();
  });

  const start = async (namespace?: string): Promise<ClusterMode> => {
    cluster = createClusterMode({ kubeConfig: fakeKubeConfig(fake), log: testLog(), ...(namespace ? { namespace } : {}), backoff: { initialMs: 20, maxMs: 200 } });
    cluster.startSessionController(engine);
    await until(() => cluster!.ready(), 'ready');
    return cluster;
  };
  const session = (ns: string, name: string): KubeObject | undefined => fake.store.get(PROFILING_SESSIONS, ns, name);
  const events = (ns: string) => fake.store.list(EVENTS, ns).map((e) => `${e.type} ${e.reason} ${e.involvedObject.name}`);

  it('applies a new session with its uid, generation and stored spec, and writes its status', async () => {
    await start();
    const obj = fake.createSession('shop', 'orders', { request: 'GET /api/orders/:id', selector: { matchLabels: { app: 'web' } } });
    await until(() => engine.applies().length === 1, 'apply');
    expect(engine.applies()[0]).toEqual({
      id: obj.metadata.uid,
      name: 'orders',
      namespace: 'shop',
      source: 'kubernetes',
      createdAt: obj.metadata.creationTimestamp,
      generation: 1,
      spec: { request: 'GET /api/orders/:id', selector: { matchLabels: { app: 'web' } }, requests: 100, duration: '5m', sampleInterval: '10ms' },
    });
    await until(() => session('shop', 'orders')?.status?.phase === 'Pending', 'status written');
    const status = session('shop', 'orders')!.status;
    expect(status).toMatchObject({ observedGeneration: 1, selector: 'app=web', progress: '0/100', requestsProfiled: 0 });
    expect(session('shop', 'orders')!.metadata.generation).toBe(1); // status writes do not bump generation
    expect(fake.requests.find((r) => r.method === 'PATCH')).toMatchObject({ path: '/apis/sonde.dev/v1alpha1/namespaces/shop/profilingsessions/orders/status', contentType: 'application/merge-patch+json' });
  });

  it('records Events on start and completion, not on progress ticks, and never reapplies for its own status writes', async () => {
    await start();
    const { metadata } = fake.createSession('shop', 's', { request: 'GET /a', requests: 10 });
    await until(() => session('shop', 's')?.status?.phase === 'Pending', 'pending');
    engine.setStatus(metadata.uid, { phase: 'Running', startedAt: new Date().toISOString(), conditions: [cond('Complete', 'False', 'Started', 'ends at 10 requests')] });
    await until(() => session('shop', 's')?.status?.phase === 'Running', 'running');
    for (let i = 1; i <= 5; i++) {
      engine.setStatus(metadata.uid, { requestsProfiled: i, progress: `${i}/10` });
      await until(() => session('shop', 's')?.status?.progress === `${i}/10`, `progress ${i}`);
    }
    engine.setStatus(metadata.uid, { phase: 'Completed', requestsProfiled: 10, progress: '10/10', completedAt: new Date().toISOString(), conditions: [cond('Complete', 'True', 'RequestsReached', '10 requests profiled')] });
    await until(() => events('shop').length === 2, 'two events');
    expect(events('shop')).toEqual(['Normal Started s', 'Normal RequestsReached s']);
    const [ev] = fake.store.list(EVENTS, 'shop');
    expect(ev!.involvedObject).toMatchObject({ kind: 'ProfilingSession', apiVersion: 'sonde.dev/v1alpha1', name: 's', uid: metadata.uid });
    await tick(100);
    expect(engine.applies()).toHaveLength(1);
    expect(events('shop')).toHaveLength(2);
  });

  it('a failed session gets a Warning Event with the condition reason', async () => {
    await start();
    const { metadata } = fake.createSession('shop', 'bad', { request: 'GET /a' });
    await until(() => engine.applies().length === 1, 'apply');
    engine.setStatus(metadata.uid, { phase: 'Failed', conditions: [cond('Complete', 'True', 'NoMatchingPods', 'no pod matches')] });
    await until(() => events('shop').length === 1, 'event');
    expect(events('shop')).toEqual(['Warning NoMatchingPods bad']);
    expect(fake.store.list(EVENTS, 'shop')[0]!.message).toBe('no pod matches');
  });

  it('retries a status write that meets a 409 with a fresh resourceVersion', async () => {
    await start();
    const { metadata } = fake.createSession('shop', 'c', { request: 'GET /a' });
    await until(() => session('shop', 'c')?.status?.phase === 'Pending', 'pending');
    fake.clearRequests();
    fake.failNext({ method: 'PATCH', path: '/profilingsessions/c/status', code: 409, reason: 'Conflict' });
    engine.setStatus(metadata.uid, { requestsProfiled: 3, progress: '3/100' });
    await until(() => session('shop', 'c')?.status?.progress === '3/100', 'written after the conflict');
    const trail = fake.requests.filter((r) => r.path.endsWith('/profilingsessions/c') || r.path.endsWith('/c/status')).map((r) => `${r.method} ${r.status}`);
    expect(trail).toEqual(['PATCH 409', 'GET 200', 'PATCH 200']);
  });

  it('applies a spec edit as a new generation; observedGeneration follows', async () => {
    await start();
    const { metadata } = fake.createSession('shop', 'e', { request: 'GET /a' });
    await until(() => session('shop', 'e')?.status?.observedGeneration === 1, 'gen 1 observed');
    const current = session('shop', 'e')!;
    fake.store.update(PROFILING_SESSIONS, 'shop', 'e', { ...current, spec: { ...current.spec, requests: 50 } });
    await until(() => engine.applies().length === 2, 'second apply');
    expect(engine.applies()[1]).toMatchObject({ id: metadata.uid, generation: 2, spec: { requests: 50 } });
    await until(() => session('shop', 'e')?.status?.observedGeneration === 2, 'gen 2 observed');
  });

  it('deleting the object removes the session; recreating the name starts a new one', async () => {
    await start();
    const first = fake.createSession('shop', 'd', { request: 'GET /a' });
    await until(() => engine.applies().length === 1, 'apply');
    engine.setStatus(first.metadata.uid, { phase: 'Running' });
    fake.store.delete(PROFILING_SESSIONS, 'shop', 'd');
    await until(() => engine.removes().length === 1, 'remove');
    expect(engine.removes()).toEqual([first.metadata.uid]);
    const second = fake.createSession('shop', 'd', { request: 'GET /b' });
    await until(() => engine.applies(second.metadata.uid).length === 1, 'new apply');
    await until(() => session('shop', 'd')?.status?.phase === 'Pending', 'new status');
    // The old session's final status (Completed, Deleted) never lands on the new object.
    expect(session('shop', 'd')!.status.phase).toBe('Pending');
    expect(engine.removes()).toEqual([first.metadata.uid]);
  });

  it('after a restart, removes running sessions whose object is gone (orphan sweep), and keeps the rest', async () => {
    const view = (id: string, namespace: string, phase: SessionView['status']['phase']): SessionView => ({
      id,
      name: id,
      namespace,
      source: 'kubernetes',
      createdAt: new Date().toISOString(),
      generation: 1,
      spec: { selector: {}, request: 'GET /', requests: 1, duration: '5m', sampleInterval: '10ms' },
      status: { phase, conditions: [], requestsProfiled: 0, progress: '0/1', pods: [], hotspots: [] },
    });
    engine.seed(view('ghost-running', 'team-a', 'Running'));
    engine.seed(view('ghost-done', 'team-a', 'Completed'));
    engine.seed(view('other-namespace', 'team-b', 'Running'));
    const live = fake.createSession('team-a', 'live', { request: 'GET /a' });
    engine.seed({ ...view(live.metadata.uid, 'team-a', 'Running'), name: 'live' });
    await start('team-a');
    expect(engine.removes()).toEqual(['ghost-running']);
  });

  it('namespace-limited mode sees only its namespace', async () => {
    await start('team-a');
    fake.createSession('team-b', 'theirs', { request: 'GET /a' });
    const mine = fake.createSession('team-a', 'mine', { request: 'GET /a' });
    await until(() => engine.applies().length === 1, 'apply');
    await tick(100);
    expect(engine.applies().map((a) => a.id)).toEqual([mine.metadata.uid]);
    const paths = new Set(fake.requests.filter((r) => r.method === 'GET').map((r) => r.path));
    expect([...paths].sort()).toEqual(['/api/v1/namespaces/team-a/pods', '/apis/sonde.dev/v1alpha1/namespaces/team-a/profilingsessions']);
  });

  it('requeues a session at its deadline on the injected clock', async () => {
    const clock = new ManualClock(Date.now());
    const kc = fakeKubeConfig(fake);
    const informer = new KubeInformer<ProfilingSessionObject>({ name: 'profilingsessions', kubeConfig: kc, path: sessionsPath(), list: listSessions(kc), log: testLog() });
    const controller = startSessionController(engine, { informer, log: testLog(), clock, deadlineSlackMs: 50 });
    try {
      const obj = fake.createSession('shop', 'timed', { request: 'GET /a', duration: '10s' });
      await until(() => engine.applies().length === 1, 'apply');
      const deadline = Date.parse(obj.metadata.creationTimestamp) + 10_000;
      clock.advance(deadline - clock.now() - 100);
      await tick(20);
      expect(engine.applies()).toHaveLength(1);
      clock.advance(200);
      await until(() => engine.applies().length === 2, 'reconcile at the deadline');
      clock.advance(60_000);
      await tick(20);
      expect(engine.applies().length).toBeLessThanOrEqual(3); // one backstop at most, then it stops
      expect(clock.pending).toBe(0);
    } finally {
      await controller.stop();
      await informer.stop();
    }
  });
});
