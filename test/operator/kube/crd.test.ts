import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CRD_PATH, renderCrdYaml } from '../../../operator/crd/render.js';
import { buildCrd, OPENAPI_SCHEMA, SPEC_SCHEMA, STATUS_SCHEMA } from '../../../operator/crd/schema.js';
import { checkAgainstSchema, parseMessageExpression } from '../../../operator/crd/structural-check.js';
import { resolveSpec } from '../../../src/session/validate.js';

const root = join(import.meta.dirname, '../../..');

describe('ProfilingSession CRD', () => {
  it('the chart YAML is exactly what schema.ts generates (run `npm run gen:crd` when this fails)', () => {
    const onDisk = readFileSync(join(root, CRD_PATH), 'utf8');
    expect(onDisk).toBe(renderCrdYaml());
    expect(parse(onDisk)).toEqual(buildCrd());
  });

  it('has the status subresource, printer columns, short names and categories', () => {
    const crd = buildCrd() as any;
    const version = crd.spec.versions[0];
    expect(version.subresources).toEqual({ status: {} });
    expect(version.additionalPrinterColumns.map((c: { name: string }) => c.name)).toEqual(['Selector', 'Request', 'Progress', 'Phase', 'Reason', 'Age']);
    expect(crd.spec.names.shortNames).toContain('psess');
    expect(crd.spec.scope).toBe('Namespaced');
    // Every printer column's simple path must exist in the schema, or kubectl prints blanks forever.
    for (const col of version.additionalPrinterColumns as { jsonPath: string }[]) {
      const parts = col.jsonPath.replace(/\[.*$/, '').split('.').filter(Boolean);
      if (parts[0] === 'metadata') continue;
      let schema: any = OPENAPI_SCHEMA;
      for (const p of parts) schema = schema.properties?.[p];
      expect(schema, col.jsonPath).toBeDefined();
    }
  });

  const samples: { name: string; spec: unknown }[] = [
    { name: 'minimal', spec: { request: 'GET /api/orders/:id' } },
    { name: 'full', spec: { selector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }] }, request: 'POST /x', requests: 10_000, duration: '1h', sampleInterval: '1s', maxRequestsPerPod: 5 } },
    { name: 'bounds low', spec: { request: 'GET /', requests: 1, duration: '1s', sampleInterval: '1ms' } },
    { name: 'compound duration', spec: { request: 'GET /', duration: '1m30s', sampleInterval: '2.5ms' } },
    { name: 'requests 0', spec: { request: 'GET /', requests: 0 } },
    { name: 'requests too many', spec: { request: 'GET /', requests: 10_001 } },
    { name: 'requests fractional', spec: { request: 'GET /', requests: 2.5 } },
    { name: 'requests as string', spec: { request: 'GET /', requests: '100' } },
    { name: 'no request', spec: { requests: 10 } },
    { name: 'blank request', spec: { request: '   ' } },
    { name: 'request too long', spec: { request: 'G'.repeat(513) } },
    { name: 'duration over an hour', spec: { request: 'GET /', duration: '61m' } },
    { name: 'duration under a second', spec: { request: 'GET /', duration: '500ms' } },
    { name: 'bare number duration', spec: { request: 'GET /', duration: '5' } },
    { name: 'interval too long', spec: { request: 'GET /', sampleInterval: '2s' } },
    { name: 'interval too short', spec: { request: 'GET /', sampleInterval: '500us' } },
    { name: 'interval in microseconds, in range', spec: { request: 'GET /', sampleInterval: '1500us' } },
    { name: 'duration in nanoseconds', spec: { request: 'GET /', duration: '2000000000ns' } },
    { name: 'maxRequestsPerPod 0', spec: { request: 'GET /', maxRequestsPerPod: 0 } },
    { name: 'bad label value', spec: { request: 'GET /', selector: { matchLabels: { app: 'bad value!' } } } },
    { name: 'bad operator', spec: { request: 'GET /', selector: { matchExpressions: [{ key: 'a', operator: 'Near' }] } } },
    { name: 'bad expression key', spec: { request: 'GET /', selector: { matchExpressions: [{ key: '-a', operator: 'Exists' }] } } },
    { name: 'selector as a string', spec: { request: 'GET /', selector: 'app=web' } },
    // Operator and values go together (a CEL rule on each requirement; the engine's rule before it).
    { name: 'In without values', spec: { request: 'GET /', selector: { matchExpressions: [{ key: 'a', operator: 'In' }] } } },
    { name: 'In with an empty list', spec: { request: 'GET /', selector: { matchExpressions: [{ key: 'a', operator: 'In', values: [] }] } } },
    { name: 'NotIn without values', spec: { request: 'GET /', selector: { matchExpressions: [{ key: 'a', operator: 'NotIn' }] } } },
    { name: 'Exists with values', spec: { request: 'GET /', selector: { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] } } },
    { name: 'DoesNotExist with values', spec: { request: 'GET /', selector: { matchExpressions: [{ key: 'a', operator: 'DoesNotExist', values: ['x', 'y'] }] } } },
    { name: 'Exists with an empty list', spec: { request: 'GET /', selector: { matchExpressions: [{ key: 'a', operator: 'Exists', values: [] }] } } },
    { name: 'NotIn with values', spec: { request: 'GET /', selector: { matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['x'] }, { key: 'b', operator: 'DoesNotExist' }] } } },
    { name: 'a duration that is not one', spec: { request: 'GET /', duration: 'soon' } },
    // Label keys as Kubernetes has them: [prefix/]name, the prefix a DNS subdomain of at most 253, the name at most 63.
    { name: 'bad label key', spec: { request: 'GET /', selector: { matchLabels: { 'bad key!': 'x' } } } },
    { name: 'label key with a space', spec: { request: 'GET /', selector: { matchLabels: { 'bad key': 'x' } } } },
    { name: 'label key with a prefix', spec: { request: 'GET /', selector: { matchLabels: { 'app.kubernetes.io/name': 'web', 'example.com/tier': 'a' } } } },
    { name: 'label key prefix of 253', spec: { request: 'GET /', selector: { matchLabels: { [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}/x`]: 'v' } } } },
    { name: 'label key prefix of 254', spec: { request: 'GET /', selector: { matchLabels: { [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}/x`]: 'v' } } } },
    { name: 'label key name of 63', spec: { request: 'GET /', selector: { matchLabels: { ['n'.repeat(63)]: 'v' } } } },
    { name: 'label key name of 64', spec: { request: 'GET /', selector: { matchLabels: { ['n'.repeat(64)]: 'v' } } } },
    { name: 'label key with an uppercase prefix', spec: { request: 'GET /', selector: { matchLabels: { 'Example.com/x': 'v' } } } },
    { name: 'label key with an empty prefix', spec: { request: 'GET /', selector: { matchLabels: { '/x': 'v' } } } },
    { name: 'label key with two slashes', spec: { request: 'GET /', selector: { matchLabels: { 'a/b/c': 'v' } } } },
    { name: 'empty label key', spec: { request: 'GET /', selector: { matchLabels: { '': 'v' } } } },
    { name: '64 labels', spec: { request: 'GET /', selector: { matchLabels: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`l${i}`, 'v'])) } } },
    { name: '65 labels', spec: { request: 'GET /', selector: { matchLabels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`l${i}`, 'v'])) } } },
    { name: 'expression key prefix of 254', spec: { request: 'GET /', selector: { matchExpressions: [{ key: `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}/x`, operator: 'Exists' }] } } },
  ];

  /**
   * Specs the CRD admits and the engine refuses (it reports InvalidSpec). None now: label keys were the
   * last (a CEL rule over the keys, bounded by maxProperties). Listed here so a new one is seen, not hidden.
   */
  const knownGaps: { name: string; spec: unknown }[] = [];

  for (const { name, spec } of samples) {
    it(`the CRD and resolveSpec agree: ${name}`, () => {
      const crd = checkAgainstSchema(SPEC_SCHEMA, spec, 'spec');
      // What the engine receives is the stored (pruned, defaulted) spec.
      const ts = resolveSpec(crd.ok ? crd.value : spec);
      expect({ crd: crd.ok, errors: crd.errors }).toEqual({ crd: ts.ok, errors: crd.ok ? [] : expect.any(Array) });
      if (crd.ok && ts.ok) {
        // Defaults are the same numbers on both sides.
        const stored = crd.value as Record<string, unknown>;
        expect(stored.requests).toBe(ts.spec.requests);
        expect(stored.duration).toBe(ts.spec.duration);
        expect(stored.sampleInterval).toBe(ts.spec.sampleInterval);
        expect(stored.selector).toEqual(ts.spec.selector);
      }
    });
  }

  for (const { name, spec } of knownGaps) {
    it(`known gap, the engine refuses what the CRD admits: ${name}`, () => {
      expect(checkAgainstSchema(SPEC_SCHEMA, spec).ok).toBe(true);
      expect(resolveSpec(spec).ok).toBe(false);
    });
  }

  it('label keys: both sides take and refuse the keys Kubernetes takes and refuses, and say why', () => {
    const prefix = (n: number): string => `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(n - 192)}`;
    const good = ['app', 'app.kubernetes.io/name', 'A-b_c.9', 'n'.repeat(63), `${prefix(253)}/x`, 'x/y'];
    const bad = ['bad key!', 'bad key', '', '-app', 'app-', 'n'.repeat(64), `${prefix(254)}/x`, 'Example.com/x', '/x', 'a/b/c', 'a./x', 'é'];
    for (const key of [...good, ...bad]) {
      const spec = { request: 'GET /', selector: { matchLabels: { [key]: 'v' } } };
      const want = good.includes(key);
      expect(checkAgainstSchema(SPEC_SCHEMA, spec).ok, `CRD, ${key}`).toBe(want);
      expect(resolveSpec(spec).ok, `resolveSpec, ${key}`).toBe(want);
      const expr = { request: 'GET /', selector: { matchExpressions: [{ key, operator: 'Exists' }] } };
      expect(checkAgainstSchema(SPEC_SCHEMA, expr).ok, `CRD expression, ${key}`).toBe(want);
      expect(resolveSpec(expr).ok, `resolveSpec expression, ${key}`).toBe(want);
    }
    const crd = checkAgainstSchema(SPEC_SCHEMA, { request: 'GET /', selector: { matchLabels: { 'bad key!': 'x' } } }, 'spec');
    expect(crd.errors).toEqual([expect.stringMatching(/^spec\.selector\.matchLabels: every label key must be an optional DNS subdomain prefix of at most 253 characters/)]);
    const ts = resolveSpec({ request: 'GET /', selector: { matchLabels: { 'bad key!': 'x', app: 'web' } } });
    expect(ts.ok ? [] : ts.problems).toEqual([{ field: 'spec.selector.matchLabels.bad key!', message: expect.stringMatching(/^"bad key!" is not a valid label key: an optional DNS subdomain prefix/) }]);
    // What a client sent comes back bounded: a 100,000-character key is echoed as 80 and an ellipsis.
    const huge = resolveSpec({ request: 'GET /', selector: { matchLabels: { ['k'.repeat(100_000)]: 'x' } } });
    expect(huge.ok).toBe(false);
    if (!huge.ok) expect(JSON.stringify(huge.problems).length).toBeLessThan(600);
    // Too many labels: one problem, not one per label.
    const many = resolveSpec({ request: 'GET /', selector: { matchLabels: Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`bad key ${i}`, 'v'])) } });
    expect(many.ok ? [] : many.problems).toEqual([{ field: 'spec.selector.matchLabels', message: 'matchLabels may hold at most 64 labels, got 10000' }]);
    expect(checkAgainstSchema(SPEC_SCHEMA, { request: 'GET /', selector: { matchLabels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`l${i}`, 'v'])) } }, 'spec').errors).toEqual(['spec.selector.matchLabels: must have at most 64 items']);
  });

  it('defaults match SPEC_LIMITS and unknown fields are pruned', () => {
    const r = checkAgainstSchema(SPEC_SCHEMA, { request: 'GET /', color: 'blue', selector: null });
    expect(r.ok).toBe(true);
    expect(r.value).toEqual({ request: 'GET /', requests: 100, duration: '5m', sampleInterval: '10ms', selector: {} });
  });

  it('a status the engine writes passes the status schema', () => {
    const status = {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True', reason: 'Sampling', message: 'ok', lastTransitionTime: '2025-01-01T00:00:00Z', observedGeneration: 2 }],
      requestsProfiled: 37,
      progress: '37/100',
      pods: [{ name: 'web-1', requests: 37, samples: 900, state: 'Sampling' }],
      startedAt: '2025-01-01T00:00:00Z',
      hotspots: [{ frame: 'hot app.js:10', selfPercent: 41.5 }],
      resultURL: 'http://sonde/ui/sessions/x',
      observedGeneration: 2,
      selector: 'app=web',
    };
    const r = checkAgainstSchema(STATUS_SCHEMA, status);
    expect(r.errors).toEqual([]);
    expect(r.value).toEqual(status);
    expect(checkAgainstSchema(STATUS_SCHEMA, { ...status, phase: 'Sleeping' }).ok).toBe(false);
  });

  it('refuses a CEL rule it cannot evaluate rather than passing it', () => {
    expect(() => checkAgainstSchema({ type: 'string', 'x-kubernetes-validations': [{ rule: 'self.size() > 2', message: 'x', messageExpression: 'self' }] }, 'abc')).toThrow(/unsupported CEL rule/);
  });

  /** Every CEL rule of the generated CRD (the YAML the chart ships), with its schema path. */
  function rulesOf(schema: any, path: string, out: { path: string; rule: any }[] = []): { path: string; rule: any }[] {
    for (const rule of schema['x-kubernetes-validations'] ?? []) out.push({ path, rule });
    for (const [k, sub] of Object.entries(schema.properties ?? {})) rulesOf(sub, `${path}.${k}`, out);
    if (schema.items) rulesOf(schema.items, `${path}[]`, out);
    if (schema.additionalProperties) rulesOf(schema.additionalProperties, `${path}.*`, out);
    return out;
  }

  it('every CEL rule has a well-formed messageExpression that shows the value', () => {
    const shipped = parse(readFileSync(join(root, CRD_PATH), 'utf8'));
    const rules = rulesOf(shipped.spec.versions[0].schema.openAPIV3Schema, '');
    expect(rules.map((r) => r.path).sort()).toEqual(['.spec.duration', '.spec.sampleInterval', '.spec.selector.matchExpressions[]', '.spec.selector.matchExpressions[].key', '.spec.selector.matchLabels']);
    for (const { path, rule } of rules) {
      expect(typeof rule.message, path).toBe('string');
      // A rule over a map's keys cannot show the map ('…' + self would not type-check, and the CRD would
      // not install): only there the fixed message stands alone, and it says what a key must be.
      if (path === '.spec.selector.matchLabels') {
        expect(rule.messageExpression, path).toBeUndefined();
        expect(rule.message, path).toMatch(/label key must be .*253.*63/);
        // Its cost is bounded by the number of keys: without maxProperties the API server may refuse the CRD.
        expect(shipped.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.selector.properties.matchLabels.maxProperties).toBe(64);
        continue;
      }
      expect(typeof rule.messageExpression, path).toBe('string');
      const terms = parseMessageExpression(rule.messageExpression);
      expect(terms.some((t) => 'field' in t), path).toBe(true);
      // A raw pattern inside a rule: no CEL escape sequences where the API server would choke on them.
      expect(rule.rule, path).not.toMatch(/(^|[^r])'[^']*\\[^']*'/);
    }
    expect(() => parseMessageExpression("'unterminated + self")).toThrow(/unterminated/);
    expect(() => parseMessageExpression("'no value shown'")).toThrow(/never shows the value/);
    expect(() => parseMessageExpression("'x' + size(self)")).toThrow(/expected a string literal/);
  });

  it('the errors name what the user wrote, not a type or a conversion failure', () => {
    const long = checkAgainstSchema(SPEC_SCHEMA, { request: 'GET /', duration: '2h' }, 'spec');
    expect(long.errors).toEqual(['spec.duration: must be between 1s and 1h, got 2h']);
    // Not a duration at all: the pattern says so, once; the range rule does not pile a conversion error on it.
    const junk = checkAgainstSchema(SPEC_SCHEMA, { request: 'GET /', sampleInterval: 'soon' }, 'spec');
    expect(junk.errors).toEqual([expect.stringMatching(/^spec\.sampleInterval: must match /)]);
    const sel = checkAgainstSchema(SPEC_SCHEMA, { request: 'GET /', selector: { matchExpressions: [{ key: 'tier', operator: 'Exists', values: ['a'] }] } }, 'spec');
    expect(sel.errors).toEqual([expect.stringMatching(/^spec\.selector\.matchExpressions\[0\]: operator Exists on key tier: /)]);
  });
});
