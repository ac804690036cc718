import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRig, type Rig } from './api-harness.js';

// A real standalone operator: the REST API refuses label keys Kubernetes refuses (the CRD does the same,
// test/operator/kube/crd.test.ts), says which key and why, and answers a flood of labels briefly.
const json = { 'content-type': 'application/json' };
let rig: Rig;

beforeAll(async () => {
  rig = await startRig();
});
afterAll(() => rig.close());

type Problems = { error: { code: string; problems: { field: string; message: string }[] } };
const post = (name: string, matchLabels: Record<string, string>) =>
  fetch(`${rig.op.url}/api/v1/sessions`, { method: 'POST', headers: json, body: JSON.stringify({ name, spec: { selector: { matchLabels }, request: 'GET /x', requests: 1 } }) });

describe('REST API: label keys in a selector', () => {
  it('refuses a malformed key, a prefix over 253 characters and a name over 63, naming each key, and creates nothing', async () => {
    const longPrefix = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}/app`;
    const res = await post('bad-keys', { 'bad key!': 'x', [longPrefix]: 'y', ['n'.repeat(64)]: 'z', app: 'web' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as Problems;
    expect(body.error.code).toBe('SONDE_INVALID_SPEC');
    expect(body.error.problems.map((p) => p.message)).toEqual([
      expect.stringMatching(/^"bad key!" is not a valid label key: an optional DNS subdomain prefix of at most 253 characters/),
      expect.stringMatching(/^"a{63}\.b{16}…" is not a valid label key/),
      expect.stringMatching(/^"n{64}" is not a valid label key/),
    ]);
    expect(body.error.problems[0]!.field).toBe('spec.selector.matchLabels.bad key!');
    const list = (await (await fetch(`${rig.op.url}/api/v1/sessions`)).json()) as { items: unknown[] };
    expect(list.items).toEqual([]);
  });

  it('takes the keys Kubernetes takes: prefixed, 253-character prefix, 63-character name', async () => {
    const prefix253 = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
    const res = await post('good-keys', { 'app.kubernetes.io/name': 'web', [`${prefix253}/x`]: 'y', ['n'.repeat(63)]: 'z' });
    expect(res.status).toBe(201);
  });

  it('answers thousands of labels with one short problem', async () => {
    const many = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`bad key ${i}`, 'v']));
    const res = await post('many-labels', many);
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text.length).toBeLessThan(1000);
    expect((JSON.parse(text) as Problems).error.problems).toEqual([{ field: 'spec.selector.matchLabels', message: 'matchLabels may hold at most 64 labels, got 5000' }]);
  });
});
