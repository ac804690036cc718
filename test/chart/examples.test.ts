import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { resolveSpec, selectorMatches } from '../../src/session/validate.js';
import { startSampleApp, type SampleApp } from '../../operator/demo/sample-app.js';
import { FakeKubeApiServer } from '../fake-kube/index.js';
import { CHART, readValues } from './chart-files.js';

/**
 * The tour in examples/ is what `kubectl apply -f examples/` would make: sessions the CRD admits (the
 * fake API server applies the generated schema) and the operator accepts, selecting the shop's pods,
 * for routes the shop really serves (asked over HTTP); a shop that asks for injection in a namespace the
 * chart's webhook selects; every container within Pod Security `restricted`; the chart's own image.
 */
const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples');

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
}
interface PodSpec {
  securityContext?: Record<string, unknown>;
  containers: { name: string; image: string; args?: string[]; securityContext?: Record<string, unknown> }[];
}

const objects: Obj[] = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .flatMap((f) => parseAllDocuments(readFileSync(join(EXAMPLES, f), 'utf8')).map((d) => d.toJSON() as Obj));
const ofKind = (kind: string): Obj[] => objects.filter((o) => o.kind === kind);
const deployment = (name: string): Obj & { spec: { template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec } } } =>
  ofKind('Deployment').find((d) => d.metadata.name === name) as never;

let shop: SampleApp;
beforeAll(async () => {
  shop = await startSampleApp({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await shop?.close();
});

describe('examples/', () => {
  it('has a namespace, the shop and its Service, traffic and sessions, all in the labelled namespace', () => {
    const [ns] = ofKind('Namespace');
    expect(ns).toBeDefined();
    const selector = (readValues().webhook as { namespaceSelector: { matchLabels: Record<string, string> } }).namespaceSelector.matchLabels;
    expect(selectorMatches({ matchLabels: selector }, ns!.metadata.labels ?? {})).toBe(true);
    for (const o of objects.filter((x) => x.kind !== 'Namespace')) expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(ns!.metadata.name);
    expect(ofKind('ProfilingSession').length).toBeGreaterThanOrEqual(2);
    expect(deployment('shop').spec.template.metadata.annotations?.['sonde.dev/inject']).toBe('node');
    expect(deployment('traffic').spec.template.metadata.annotations?.['sonde.dev/inject']).toBeUndefined();
  });

  it('runs the image the chart installs, with commands that exist', () => {
    const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string };
    const image = `${(readValues().image as { repository: string }).repository}:${chart.appVersion}`;
    for (const d of ofKind('Deployment')) {
      const c = (d.spec as { template: { spec: PodSpec } }).template.spec.containers[0]!;
      expect(c.image, d.metadata.name).toBe(image);
      expect(['sample-app', 'sample-traffic']).toContain(c.args?.[0]);
    }
    // The traffic reaches the shop through its Service.
    const svc = ofKind('Service').find((s) => s.metadata.name === 'shop')!;
    const port = (svc.spec as { ports: { port: number }[] }).ports[0]!.port;
    const args = deployment('traffic').spec.template.spec.containers[0]!.args!;
    expect(args[args.indexOf('--target') + 1]).toBe(`http://shop.${svc.metadata.namespace}:${port}`);
    expect(selectorMatches({ matchLabels: (svc.spec as { selector: Record<string, string> }).selector }, deployment('shop').spec.template.metadata.labels)).toBe(true);
  });

  it('keeps every pod within Pod Security "restricted"', () => {
    for (const d of ofKind('Deployment')) {
      const pod = (d.spec as { template: { spec: PodSpec } }).template.spec;
      expect(pod.securityContext, d.metadata.name).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      for (const c of pod.containers) expect(c.securityContext, `${d.metadata.name}/${c.name}`).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    }
  });

  it('has sessions the CRD admits and the operator accepts, selecting the shop, for routes the shop serves', async () => {
    const fake = await FakeKubeApiServer.start();
    try {
      for (const s of ofKind('ProfilingSession')) {
        expect(s.apiVersion).toBe('sonde.dev/v1alpha1');
        const admitted = fake.createSession(s.metadata.namespace!, s.metadata.name, s.spec);
        const resolved = resolveSpec((admitted as unknown as { spec: unknown }).spec);
        expect(resolved.ok, JSON.stringify(resolved)).toBe(true);
        if (!resolved.ok) continue;
        expect(selectorMatches(resolved.spec.selector, deployment('shop').spec.template.metadata.labels), s.metadata.name).toBe(true);
        // "GET /api/orders/:id" → GET /api/orders/1001, asked of the real shop.
        const [method, route] = resolved.spec.request.split(' ') as [string, string];
        const res = await fetch(`http://127.0.0.1:${shop.port}${route.replace(/:[a-z]+/g, '1001')}`, method === 'GET' ? {} : { method, headers: { 'content-type': 'application/json' }, body: '{"order":"1001","total":100}' });
        expect(res.status, `${s.metadata.name}: ${resolved.spec.request}`).toBeLessThan(300);
      }
    } finally {
      await fake.stop();
    }
  });
});
