import { describe, expect, it } from 'vitest';
import { parseSessionDocuments } from '../../../operator/standalone/session-documents.js';
import { sharedTokenAuthenticator } from '../../../operator/standalone/shared-token.js';
import { workloadFromPodName as workloadOf } from '../../../src/session/workload.js';
import { mergeCatalogues } from '../../../operator/api/catalogue.js';
import type { AgentInfo } from '../../../operator/store/contracts.js';

const pod = { name: 'web-1', namespace: 'default', uid: '' };

describe('ProfilingSession YAML documents', () => {
  it('reads every document of a multi-document file, defaulting the namespace', () => {
    const parsed = parseSessionDocuments(`
apiVersion: sonde.dev/v1alpha1
kind: ProfilingSession
metadata: {name: orders}
spec: {selector: {matchLabels: {app: shop}}, request: "GET /api/orders/:id", requests: 20}
---
kind: ProfilingSession
metadata: {name: search, namespace: team-a}
spec: {request: "GET /api/search"}
---
`);
    expect(parsed).toEqual({
      ok: true,
      sessions: [
        { name: 'orders', namespace: 'default', spec: { selector: { matchLabels: { app: 'shop' } }, request: 'GET /api/orders/:id', requests: 20 }, line: 2 },
        { name: 'search', namespace: 'team-a', spec: { request: 'GET /api/search' }, line: 7 },
      ],
    });
  });

  it('refuses the whole file when one document is bad, naming each problem and its line', () => {
    const parsed = parseSessionDocuments(`kind: ProfilingSession
metadata: {name: good}
spec: {request: "GET /"}
---
kind: Pod
metadata: {name: Bad_Name}
spec: {}
---
kind: ProfilingSession
metadata: {name: good}
spec: {request: "GET /"}
`);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problems).toEqual([
      'document at line 5: kind must be ProfilingSession, got "Pod"',
      'document at line 5: metadata.name must be a lowercase DNS name, got "Bad_Name"',
      // The file will not apply: its spec's problems come with the name's.
      'document at line 5: spec.request: request is required: a request type such as "GET /api/orders/:id"',
      'document at line 9: default/good appears twice in the file',
    ]);
  });

  it('reports YAML syntax errors with their line', () => {
    const parsed = parseSessionDocuments('kind: ProfilingSession\nmetadata: {name: x\nspec: [\n');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problems[0]).toMatch(/^line \d+: /);
  });
});

describe('shared-token authenticator', () => {
  it('accepts the right token and binds the claimed pod', async () => {
    const auth = sharedTokenAuthenticator('s3cret-token');
    expect(await auth.authenticate('s3cret-token', pod)).toEqual({ ok: true, pod });
  });

  it('refuses a wrong, shorter, longer or missing token', async () => {
    const auth = sharedTokenAuthenticator('s3cret-token');
    for (const t of ['s3cret-tokem', 's3cret', 's3cret-token-and-more', '', undefined]) {
      const r = await auth.authenticate(t, pod);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.code).toBe('SONDE_UNAUTHENTICATED');
    }
  });

  it('without a configured token accepts every agent (the config allows that only on loopback)', async () => {
    expect(await sharedTokenAuthenticator(undefined).authenticate(undefined, pod)).toEqual({ ok: true, pod });
  });
});

describe('workloads and the merged catalogue', () => {
  it('strips generated pod-name suffixes', () => {
    expect(workloadOf('checkout-7d9f8b6c5-x2x9z')).toBe('checkout');
    expect(workloadOf('node-agent-x2x9z')).toBe('node-agent');
    expect(workloadOf('db-0')).toBe('db');
    expect(workloadOf('demo')).toBe('demo');
    expect(workloadOf('anything-7d9f8b6c5-x2x9z', { workload: 'shop' })).toBe('shop');
  });

  it('adds counts, weights p50/p90 by count, keeps the worst p99, and lists pods, namespaces and workloads', () => {
    const agent = (name: string, namespace: string, catalogue: AgentInfo['catalogue']): AgentInfo => ({
      id: name,
      pod: { name, namespace, uid: '' },
      labels: {},
      runtime: 'node',
      runtimeVersion: 'v20',
      agentVersion: '0.1.0',
      connectedAt: '2026-01-01T00:00:00Z',
      sessions: [],
      catalogue,
    });
    const rows = mergeCatalogues([
      agent('shop-7d9f8b6c5-m2x7z', 'a', [{ type: 'GET /x', count: 30, errors: 1, p50Ms: 10, p90Ms: 20, p99Ms: 40 }]),
      agent('shop-7d9f8b6c5-q7w4k', 'b', [
        { type: 'GET /x', count: 10, errors: 0, p50Ms: 30, p90Ms: 40, p99Ms: 90 },
        { type: 'POST /y', count: 5, errors: 5, p50Ms: 1, p90Ms: 2, p99Ms: 3 },
      ]),
    ]);
    expect(rows).toEqual([
      { type: 'GET /x', count: 40, errors: 1, p50Ms: 15, p90Ms: 25, p99Ms: 90, pods: 2, namespaces: ['a', 'b'], workloads: ['shop'] },
      { type: 'POST /y', count: 5, errors: 5, p50Ms: 1, p90Ms: 2, p99Ms: 3, pods: 1, namespaces: ['b'], workloads: ['shop'] },
    ]);
  });
});
