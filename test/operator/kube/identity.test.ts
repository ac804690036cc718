import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../operator/clock.js';
import { createClusterMode, type ClusterMode } from '../../../operator/kube/cluster-mode.js';
import { TokenReviewAuthenticator } from '../../../operator/kube/token-review-authenticator.js';
import { workloadOf } from '../../../operator/kube/workload.js';
import type { PodIdentity } from '../../../src/protocol/messages.js';
import { fakeKubeConfig, FakeKubeApiServer, PODS } from '../../fake-kube/index.js';
import { testLog, until } from './harness.js';

describe('workloadOf', () => {
  it('names the workload people know', () => {
    const rs = (name: string) => [{ kind: 'ReplicaSet', name, controller: true }];
    expect(workloadOf({ metadata: { name: 'web-7d4b9c8f5-x2k9p', labels: { 'pod-template-hash': '7d4b9c8f5' }, ownerReferences: rs('web-7d4b9c8f5') } })).toBe('web');
    expect(workloadOf({ metadata: { name: 'api-v2-5c8f7d9b4-qz7xw', ownerReferences: rs('api-v2-5c8f7d9b4') } })).toBe('api-v2');
    expect(workloadOf({ metadata: { name: 'db-0', ownerReferences: [{ kind: 'StatefulSet', name: 'db', controller: true }] } })).toBe('db');
    expect(workloadOf({ metadata: { name: 'agent-x7k2p', ownerReferences: [{ kind: 'DaemonSet', name: 'agent', controller: true }] } })).toBe('agent');
    expect(workloadOf({ metadata: { name: 'report-28930500-abcde', ownerReferences: [{ kind: 'Job', name: 'report-28930500', controller: true }] } })).toBe('report');
    // No owner (e.g. a pod copied out of a Deployment): the name minus hash and suffix.
    expect(workloadOf({ metadata: { name: 'checkout-6b8d7f9c4-m2x7z' } })).toBe('checkout');
    expect(workloadOf({ metadata: { name: 'standalone' } })).toBe('standalone');
  });
});

describe('cluster identity: pod directory and TokenReview authenticator', () => {
  let fake: FakeKubeApiServer;
  let cluster: ClusterMode;

  beforeEach(async () => {
    fake = await FakeKubeApiServer.start();
    cluster = createClusterMode({ kubeConfig: fakeKubeConfig(fake), log: testLog() });
  });
  afterEach(async () => {
    await cluster.stop();
    await fake.stop();
  });

  const identity = (pod: { metadata: Record<string, any> }): PodIdentity => ({ name: pod.metadata.name, namespace: pod.metadata.namespace, uid: pod.metadata.uid });

  it('knows pod labels and workloads from the cluster, and notifies label changes only', async () => {
    const pod = fake.addPod({ name: 'web-7d4b9c8f5-x2k9p', namespace: 'shop', labels: { app: 'web', 'pod-template-hash': '7d4b9c8f5' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d4b9c8f5', uid: 'rs', controller: true }] });
    await cluster.podsSynced;
    const id = identity(pod);
    expect(cluster.podDirectory.labelsOf(id)).toEqual({ app: 'web', 'pod-template-hash': '7d4b9c8f5' });
    expect(cluster.podDirectory.workloadFor(id)).toBe('web');
    // Same name, other uid (a recreated pod): not this pod.
    expect(cluster.podDirectory.labelsOf({ ...id, uid: 'other' })).toBeUndefined();
    expect(cluster.podDirectory.labelsOf({ name: 'nope', namespace: 'shop', uid: '' })).toBeUndefined();

    const changes: string[] = [];
    cluster.podDirectory.onChange((p) => changes.push(p.name));
    await until(() => fake.watchCount('pods') === 1, 'watch');
    const current = fake.store.get(PODS, 'shop', pod.metadata.name)!;
    fake.store.update(PODS, 'shop', pod.metadata.name, { ...current, status: { phase: 'Running', podIP: '10.0.0.9' } }); // not a label change
    const again = fake.store.get(PODS, 'shop', pod.metadata.name)!;
    fake.store.update(PODS, 'shop', pod.metadata.name, { ...again, metadata: { ...again.metadata, labels: { app: 'web', tier: 'gold' } } });
    fake.addPod({ name: 'late', namespace: 'shop' });
    await until(() => changes.length === 2, 'changes');
    expect(changes).toEqual([pod.metadata.name, 'late']);
    expect(cluster.podDirectory.labelsOf(id)).toEqual({ app: 'web', tier: 'gold' });
  });

  it('accepts a token issued for the claimed pod, refuses a forged pod and bad tokens', async () => {
    const a = fake.addPod({ name: 'a', namespace: 'shop' });
    const b = fake.addPod({ name: 'b', namespace: 'shop' });
    const tokenA = fake.tokens.issuePodToken(identity(a) as PodIdentity);
    const auth = cluster.authenticator;

    expect(await auth.authenticate(tokenA, identity(a))).toEqual({ ok: true, pod: identity(a) });
    // Pod a's token, claiming to be pod b: forged.
    expect(await auth.authenticate(tokenA, identity(b))).toMatchObject({ ok: false, code: 'SONDE_FORGED_IDENTITY' });
    // The right name in another namespace, or a stale uid: forged too.
    expect(await auth.authenticate(tokenA, { ...identity(a), namespace: 'other' })).toMatchObject({ ok: false, code: 'SONDE_FORGED_IDENTITY' });
    expect(await auth.authenticate(tokenA, { ...identity(a), uid: 'old-uid' })).toMatchObject({ ok: false, code: 'SONDE_FORGED_IDENTITY' });

    expect(await auth.authenticate(undefined, identity(a))).toMatchObject({ ok: false, code: 'SONDE_UNAUTHENTICATED' });
    expect(await auth.authenticate('not-a-token', identity(a))).toMatchObject({ ok: false, code: 'SONDE_UNAUTHENTICATED' });
    const vaultToken = fake.tokens.issuePodToken(identity(a) as PodIdentity, { audiences: ['vault'] });
    expect(await auth.authenticate(vaultToken, identity(a))).toMatchObject({ ok: false, code: 'SONDE_UNAUTHENTICATED' });
    // A user's token, not a pod-bound ServiceAccount token.
    fake.tokens.set('user-token', { username: 'alice@example.com', uid: 'u', groups: [], extra: {}, audiences: ['sonde'] });
    expect(await auth.authenticate('user-token', identity(a))).toMatchObject({ ok: false, code: 'SONDE_UNAUTHENTICATED', message: expect.stringMatching(/not a ServiceAccount token/) });
    // An unreachable API server refuses (fail closed), without caching the failure.
    const tokenB = fake.tokens.issuePodToken(identity(b) as PodIdentity);
    fake.failNext({ path: '/tokenreviews', code: 503 });
    expect(await auth.authenticate(tokenB, identity(b))).toMatchObject({ ok: false, code: 'SONDE_UNAUTHENTICATED' });
    expect(await auth.authenticate(tokenB, identity(b))).toMatchObject({ ok: true });
  });

  it('caches successful reviews briefly, by the injected clock', async () => {
    const clock = new ManualClock(Date.now());
    const auth = new TokenReviewAuthenticator({ kubeConfig: fakeKubeConfig(fake), log: testLog(), clock, cacheTtlMs: 30_000 });
    const pod = fake.addPod({ name: 'c', namespace: 'shop' });
    const token = fake.tokens.issuePodToken(identity(pod) as PodIdentity);
    for (let i = 0; i < 5; i++) expect(await auth.authenticate(token, identity(pod))).toMatchObject({ ok: true });
    expect(auth.reviews).toBe(1);
    // The cached claims still refuse a forged claim.
    expect(await auth.authenticate(token, { ...identity(pod), name: 'd' })).toMatchObject({ ok: false, code: 'SONDE_FORGED_IDENTITY' });
    expect(auth.reviews).toBe(1);
    clock.advance(30_000);
    // Expired: reviewed again, and a revoked token (its pod deleted) is now refused.
    fake.tokens.revoke(token);
    expect(await auth.authenticate(token, identity(pod))).toMatchObject({ ok: false, code: 'SONDE_UNAUTHENTICATED' });
    expect(auth.reviews).toBe(2);
  });
});
