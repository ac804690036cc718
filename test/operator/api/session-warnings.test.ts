import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionView } from '../../../src/session/types.js';
import { warningHeader } from '../../../operator/api/session-warnings.js';
import { startRig, type Rig } from './api-harness.js';

/**
 * Issue 14: a session for a request type no agent has seen is accepted (traffic may come later) but the
 * POST says so at once: `warnings` in the body, a `Warning` header (as the Kubernetes API server does),
 * and the RequestTypeSeen condition on the session.
 */

const json = { 'content-type': 'application/json' };
let rig: Rig;
let base: string;

const stats = (type: string) => ({ type, count: 3, errors: 0, p50Ms: 1, p90Ms: 2, p99Ms: 3 });
const post = (name: string, request: string) =>
  fetch(`${base}/api/v1/sessions`, { method: 'POST', headers: json, body: JSON.stringify({ name, spec: { selector: { matchLabels: { app: 'shop' } }, request, requests: 5, duration: '1m' } }) });

beforeAll(async () => {
  rig = await startRig();
  base = rig.op.url;
  // An agent whose catalogue holds a hostile type too: quotes, a backslash and characters a header cannot carry.
  await rig.connect({ pod: { name: 'shop-0', namespace: 'default', uid: '' }, labels: { app: 'shop' }, catalogue: [stats('GET /api/orders/:id'), stats('GET /"évil"\\€ ☃')] });
});
afterAll(async () => {
  await rig?.close();
});

describe('POST /api/v1/sessions warnings', () => {
  it('accepts a type no agent has reported, with a warning in the body, a Warning header and the condition', async () => {
    const res = await post('typo', 'GET /api/order/:id');
    expect(res.status).toBe(201);
    const body = (await res.json()) as SessionView & { warnings: string[] };
    expect(body.warnings).toHaveLength(1);
    expect(body.warnings[0]).toContain('no agent in namespace default has reported a "GET /api/order/:id" request yet');
    expect(body.warnings[0]).toContain('"GET /api/orders/:id"');
    expect(body.warnings[0]).toContain('€ ☃'); // the body keeps the text whole
    const header = res.headers.get('warning')!;
    expect(header).toMatch(/^299 - "no agent in namespace default has reported a \\"GET \/api\/order\/:id\\" request yet/);
    expect(header).toMatch(/^[\x20-\x7e]+$/);
    expect(body.status.conditions.find((c) => c.type === 'RequestTypeSeen')).toMatchObject({ status: 'False', reason: 'UnknownRequestType', message: body.warnings[0] });
    // The session is not refused: it waits for such traffic.
    expect(body.status.phase).toBe('Running');
    expect(body.status.conditions.find((c) => c.type === 'SpecAccepted')?.status).toBe('True');
    const again = (await (await fetch(`${base}/api/v1/sessions/${body.id}`)).json()) as SessionView;
    expect(again.status.conditions.find((c) => c.type === 'RequestTypeSeen')?.status).toBe('False');
  });

  it('has no warnings for a type agents reported', async () => {
    const res = await post('known', 'GET /api/orders/:id');
    expect(res.status).toBe(201);
    const body = (await res.json()) as SessionView & { warnings: string[] };
    expect(body.warnings).toEqual([]);
    expect(res.headers.get('warning')).toBeNull();
    expect(body.status.conditions.find((c) => c.type === 'RequestTypeSeen')).toMatchObject({ status: 'True' });
  });

  it('warningHeader: printable ASCII, quotes and backslashes escaped, bounded', () => {
    expect(warningHeader('a "b" \\ c')).toBe('299 - "a \\"b\\" \\\\ c"');
    expect(warningHeader('é\n€')).toBe('299 - "???"');
    expect(warningHeader('x'.repeat(5000)).length).toBeLessThan(600);
  });
});
