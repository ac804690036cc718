import { createServer, type Server } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../operator/clock.js';
import { ReviewGate } from '../../../operator/auth/review-gate.js';
import { AgentHub } from '../../../operator/hub/agent-hub.js';
import { TokenReviewAuthenticator } from '../../../operator/kube/token-review-authenticator.js';
import { TokenReviewClient, jwtExpiry } from '../../../operator/kube/token-review-client.js';
import { FakeKubeApiServer, fakeKubeConfig } from '../../fake-kube/index.js';
import { FakeAgent } from '../../harness/fake-agent.js';
import { log } from './auth-rig.js';

/** TokenReview as a shared cluster needs it, against the fake API server over real sockets. */
let fake: FakeKubeApiServer;
beforeEach(async () => {
  fake = await FakeKubeApiServer.start();
});
afterEach(async () => {
  await fake.stop();
});

const pod = { name: 'web-0', namespace: 'shop', uid: 'uid-web-0' };

describe('TokenReview for agents', () => {
  it('refuses an answer with an empty status.audiences (an audience-unaware authenticator)', async () => {
    const auth = new TokenReviewAuthenticator({ kubeConfig: fakeKubeConfig(fake), log });
    const token = fake.tokens.issuePodToken(pod);
    fake.tokens.emptyAudiences = true;
    const refused = await auth.authenticate(token, pod);
    expect(refused).toMatchObject({ ok: false, code: 'SONDE_UNAUTHENTICATED', message: expect.stringMatching(/names no audience/) });
    // The same token, answered by an audience-aware server (after the refusal's cache time), is fine.
    fake.tokens.emptyAudiences = false;
    const fresh = new TokenReviewAuthenticator({ kubeConfig: fakeKubeConfig(fake), log });
    expect(await fresh.authenticate(token, pod)).toMatchObject({ ok: true, pod });
  });

  it('remembers a refusal briefly: a flood of one bad token costs one review per failure TTL', async () => {
    const clock = new ManualClock(Date.now());
    const auth = new TokenReviewAuthenticator({ kubeConfig: fakeKubeConfig(fake), log, clock, failureTtlMs: 10_000 });
    const results = await Promise.all(Array.from({ length: 50 }, () => auth.authenticate('forged-token', pod)));
    expect(results.every((r) => !r.ok)).toBe(true);
    for (let i = 0; i < 20; i++) expect((await auth.authenticate('forged-token', pod)).ok).toBe(false);
    expect(auth.reviews).toBe(1);
    clock.advance(10_000);
    await auth.authenticate('forged-token', pod);
    expect(auth.reviews).toBe(2);
  });

  it('carries the token\'s expiry, and never serves a cached review past it', async () => {
    const clock = new ManualClock(Date.now());
    const auth = new TokenReviewAuthenticator({ kubeConfig: fakeKubeConfig(fake), log, clock, cacheTtlMs: 60_000 });
    const expiresAt = Math.floor((clock.now() + 20_000) / 1000) * 1000;
    const token = fake.tokens.issuePodToken(pod, { expiresAt });
    expect(jwtExpiry(token)).toBe(expiresAt);
    expect(await auth.authenticate(token, pod)).toEqual({ ok: true, pod, expiresAt });
    clock.advance(expiresAt - clock.now());
    // The cache entry ended with the token; the fresh review sees an expired token.
    expect(await auth.authenticate(token, pod)).toMatchObject({ ok: false, message: expect.stringMatching(/expired/) });
    expect(auth.reviews).toBe(2);
  });
});

describe('bounds on reviews', () => {
  it('keeps at most maxInFlight reviews at the API server, refuses past the queue, and times out a hung review', async () => {
    fake.reviewDelayMs = 150;
    const gate = new ReviewGate(3, 20);
    const client = new TokenReviewClient({ kubeConfig: fakeKubeConfig(fake), log, gate });
    const tokens = Array.from({ length: 23 }, (_, i) => fake.tokens.issueUserToken(`user-${i}`));
    const spill = Array.from({ length: 5 }, (_, i) => fake.tokens.issueUserToken(`spill-${i}`));
    const outcomes = await Promise.all([...tokens, ...spill].map((t) => client.review(t)));
    expect(fake.peakReviewsInFlight).toBe(3);
    expect(gate.peak).toBe(3);
    // 3 running + 20 waiting were served; the 5 past the queue were refused at once as transient.
    expect(outcomes.filter((o) => o.ok)).toHaveLength(23);
    expect(outcomes.filter((o) => !o.ok && o.transient && /waiting/.test(o.message))).toHaveLength(5);
    expect(gate.inFlight).toBe(0);

    fake.reviewDelayMs = 3000;
    const slow = new TokenReviewClient({ kubeConfig: fakeKubeConfig(fake), log, gate, timeoutMs: 200 });
    const t0 = Date.now();
    const hung = await slow.review(fake.tokens.issueUserToken('slow'));
    expect(hung).toMatchObject({ ok: false, transient: true });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(gate.inFlight).toBe(0);
  });
});

describe('expiry of an open agent connection', () => {
  let server: Server;
  let hub: AgentHub;
  afterEach(async () => {
    await hub?.close();
    await new Promise((r) => server?.close(r));
  });

  it('closes the connection when its token expires (the agent redials with the rotated token)', async () => {
    hub = new AgentHub({ authenticator: new TokenReviewAuthenticator({ kubeConfig: fakeKubeConfig(fake), log }), log, heartbeatMs: 1000, helloTimeoutMs: 5000 });
    server = createServer();
    hub.attach(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `ws://127.0.0.1:${(server.address() as { port: number }).port}/v1/agents`;
    // JWT `exp` has whole seconds: expire at the next second boundary after ~1.2 s.
    const expiresAt = Math.ceil((Date.now() + 1200) / 1000) * 1000;
    const lasting = await FakeAgent.connect({ url, pod: { ...pod, name: 'lasting', uid: 'u2' }, token: fake.tokens.issuePodToken({ ...pod, name: 'lasting', uid: 'u2' }, { expiresAt: Date.now() + 3600_000 }) });
    const agent = await FakeAgent.connect({ url, pod, token: fake.tokens.issuePodToken(pod, { expiresAt }) });
    const closed = await agent.closed;
    expect(closed.code).toBe(4003);
    expect(closed.reason).toMatch(/expired/);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    expect(Date.now()).toBeLessThan(expiresAt + 1500);
    expect(lasting.isOpen).toBe(true);
    expect(hub.agents().map((a) => a.pod.name)).toEqual(['lasting']);
    await lasting.kill();
  });
});

describe('namespace reviews per request', () => {
  it('asks the cluster-wide question first, then at most maxNamespaceReviews namespaces (sorted), and logs the rest as hidden', async () => {
    const { KubernetesAccess } = await import('../../../operator/auth/kubernetes-access.js');
    const { AccessReviewClient } = await import('../../../operator/auth/subject-access-review.js');
    const kc = fakeKubeConfig(fake);
    const reviews = new AccessReviewClient({ kubeConfig: kc, log });
    const warnings: unknown[] = [];
    const warnLog = { ...log, warn: (o: unknown) => void warnings.push(o), child: () => warnLog } as unknown as typeof log;
    const access = new KubernetesAccess({ tokens: new TokenReviewClient({ kubeConfig: kc, log }), reviews, knownNamespaces: () => ['d', 'c', 'b', 'a', 'a'], maxNamespaceReviews: 2, log: warnLog });
    fake.policy.allow('zoe', 'a', ['list']);
    fake.policy.allow('zoe', 'c', ['list']);
    const token = fake.tokens.issueUserToken('zoe');
    const a = await access.resolve(`Bearer ${token}`, 'api');
    // 'c' is allowed but past the bound: hidden, and said so in the log.
    expect([...(a.namespaces as Set<string>)]).toEqual(['a']);
    expect(reviews.reviews).toBe(3);
    expect(warnings).toEqual([expect.objectContaining({ known: 4, reviewed: 2, user: 'zoe' })]);
    // A ClusterRole answers in one review.
    fake.policy.allow('group:admins', '*', ['list']);
    const admin = await access.resolve(`Bearer ${fake.tokens.issueUserToken('ada', { groups: ['admins'] })}`, 'api');
    expect(admin.namespaces).toBe('all');
    expect(reviews.reviews).toBe(4);
    // Once cached, a decision costs no review and a few µs per namespace: measured, printed.
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 2000; i++) await access.resolve(`Bearer ${token}`, 'api');
    expect(reviews.reviews).toBe(4);
    console.log(`cached decision over 1 + 2 namespace reviews: ${(Number(process.hrtime.bigint() - t0) / 2000 / 1000).toFixed(1)} µs`);
  });
});
