import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { ApiCall } from '../fake-kube/index.js';

/**
 * The chart as data for tests that run without helm: its values, its schema, its templates' text, and
 * its RBAC as `templates/rbac.yaml` renders it from `files/rbac-rules.yaml` (same sections, same
 * conditions; `helm.test.ts` compares the two whenever helm is on PATH).
 */
export const CHART = join(import.meta.dirname, '..', '..', 'charts', 'sonde');

export type Values = Record<string, unknown>;

export const readValues = (): Values => parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Values;
export const readSchema = (): Record<string, unknown> => JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as Record<string, unknown>;

/** Every template file's text, by name. */
export function readTemplates(): Map<string, string> {
  const dir = join(CHART, 'templates');
  return new Map(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

/** Helm's merge of user values over the defaults: maps merge key by key, anything else replaces. */
export function mergeValues(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isMap(b) && isMap(v) ? mergeValues(b, v) : v;
  }
  return out;
}

const isMap = (v: unknown): v is Values => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** What the release's ServiceAccount may do: ClusterRole rules (every namespace and cluster scope) and Role rules per namespace. */
export interface ChartRbac {
  cluster: PolicyRule[];
  namespaced: Map<string, PolicyRule[]>;
}

/** The chart's helper names for a release: `helm install sonde …` gives `sonde`. */
export function fullname(release: string, values: Values): string {
  if (typeof values.fullnameOverride === 'string' && values.fullnameOverride) return values.fullnameOverride;
  const name = (typeof values.nameOverride === 'string' && values.nameOverride) || 'sonde';
  return release.includes(name) ? release : `${release}-${name}`;
}

/** The rules `templates/rbac.yaml` grants for these values, release and namespace. */
export function chartRbac(values: Values, release: string, namespace: string): ChartRbac {
  const name = fullname(release, values);
  const tls = values.tls as { mode: string; secretName: string };
  const secret = tls.secretName || `${name}-tls`;
  const text = readFileSync(join(CHART, 'files', 'rbac-rules.yaml'), 'utf8').replaceAll('WEBHOOK_CONFIG', name).replaceAll('TLS_SECRET', secret);
  const rules = parse(text) as Record<'watched' | 'cluster' | 'webhookCaBundle' | 'tlsSecret', PolicyRule[]>;
  const watch = (values.operator as { watchNamespaces: string[] }).watchNamespaces;
  const secretMode = tls.mode === 'secret';
  const webhook = (values.webhook as { enabled: boolean }).enabled;
  const out: ChartRbac = { cluster: [...rules.cluster], namespaced: new Map() };
  if (!(values.rbac as { create: boolean }).create) return { cluster: [], namespaced: new Map() };
  if (secretMode && webhook) out.cluster.push(...rules.webhookCaBundle);
  if (watch.length === 0) out.cluster.push(...rules.watched);
  for (const ns of watch) out.namespaced.set(ns, [...(out.namespaced.get(ns) ?? []), ...rules.watched]);
  if (secretMode) out.namespaced.set(namespace, [...(out.namespaced.get(namespace) ?? []), ...rules.tlsSecret]);
  return out;
}

/** Whether one rule allows one call (RBAC's own matching; `create` and collection verbs carry no name). */
export function ruleAllows(rule: PolicyRule, call: ApiCall): boolean {
  const resource = call.subresource ? `${call.resource}/${call.subresource}` : call.resource;
  if (!rule.apiGroups.includes(call.group) && !rule.apiGroups.includes('*')) return false;
  if (!rule.resources.includes(resource) && !rule.resources.includes('*')) return false;
  if (!rule.verbs.includes(call.verb) && !rule.verbs.includes('*')) return false;
  if (rule.resourceNames?.length) return call.name !== undefined && call.verb !== 'create' && rule.resourceNames.includes(call.name);
  return true;
}

/** The rule that allows a call, with where it was granted, or undefined. */
export function allowedBy(rbac: ChartRbac, call: ApiCall): { scope: string; index: number } | undefined {
  const c = rbac.cluster.findIndex((r) => ruleAllows(r, call));
  if (c >= 0) return { scope: 'ClusterRole', index: c };
  if (call.namespace === undefined) return undefined;
  const n = (rbac.namespaced.get(call.namespace) ?? []).findIndex((r) => ruleAllows(r, call));
  return n >= 0 ? { scope: `Role in ${call.namespace}`, index: n } : undefined;
}

/** Each granted permission as `scope group/resource verb`, one per verb and resource. */
export function permissions(rbac: ChartRbac): { key: string; scope: string; index: number; grant: string }[] {
  const out: { key: string; scope: string; index: number; grant: string }[] = [];
  const add = (scope: string, rules: PolicyRule[]): void =>
    rules.forEach((r, index) => {
      for (const g of r.apiGroups) for (const res of r.resources) for (const v of r.verbs) out.push({ key: `${scope} ${g || 'core'}/${res} ${v}`, scope, index, grant: `${g || 'core'}/${res} ${v}` });
    });
  add('ClusterRole', rbac.cluster);
  for (const [ns, rules] of rbac.namespaced) add(`Role in ${ns}`, rules);
  return out;
}
