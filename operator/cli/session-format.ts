import type { SessionView } from '../../src/session/types.js';
import { clean } from './api-client.js';

/** Left-aligned columns with two spaces between them. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

/** `5m`, `3h`, `2d` since an RFC 3339 time (as kubectl prints AGE). */
export function age(iso: string | undefined, now: number): string {
  const t = iso ? Date.parse(iso) : NaN;
  if (!Number.isFinite(t)) return '-';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** `sonde sessions` (list): one row per session, newest first as the API orders them. */
export function formatSessionList(items: SessionView[], now: number): string {
  if (items.length === 0) return 'No sessions.';
  const rows = [['NAMESPACE', 'NAME', 'PHASE', 'PROGRESS', 'REQUEST', 'AGE', 'ID']];
  for (const s of items) rows.push([s.namespace, s.name, s.status.phase, s.status.progress, s.spec.request, age(s.createdAt, now), s.id].map(clean));
  return table(rows);
}

/** `sonde sessions show`: the spec, progress per pod, conditions and the top hotspots. */
export function formatSession(s: SessionView, now: number, top = 10): string {
  const lines: string[] = [];
  const field = (k: string, v: string | number | undefined): void => {
    if (v !== undefined && v !== '') lines.push(`${(k + ':').padEnd(17)}${clean(String(v))}`);
  };
  field('Name', `${s.namespace}/${s.name}`);
  field('ID', s.id);
  field('Source', s.source);
  field('Created', `${s.createdAt} (${age(s.createdAt, now)} ago)`);
  field('Request', s.spec.request);
  const sel = s.spec.selector ?? {};
  const labels = Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  const exprs = (sel.matchExpressions ?? []).map((e) => `${e.key} ${e.operator}${e.values?.length ? ` (${e.values.join(',')})` : ''}`);
  field('Selector', [...labels, ...exprs].join(', ') || '(every pod with an agent)');
  field('Requests', s.spec.requests);
  field('Duration', s.spec.duration);
  field('Sample interval', s.spec.sampleInterval);
  if (s.spec.maxRequestsPerPod !== undefined) field('Max per pod', s.spec.maxRequestsPerPod);
  field('Phase', s.status.phase);
  field('Progress', `${s.status.progress} requests profiled`);
  field('Started', s.status.startedAt);
  field('Completed', s.status.completedAt);
  field('Result', s.status.resultURL);
  if (s.status.pods.length) {
    lines.push('', 'Pods:');
    const rows = [['  POD', 'STATE', 'REQUESTS', 'SAMPLES', 'MESSAGE']];
    for (const p of s.status.pods) rows.push([`  ${p.name}`, p.state, String(p.requests), String(p.samples), p.message ?? ''].map(clean));
    lines.push(table(rows));
  }
  if (s.status.conditions.length) {
    lines.push('', 'Conditions:');
    const rows = [['  TYPE', 'STATUS', 'REASON', 'MESSAGE']];
    for (const c of s.status.conditions) rows.push([`  ${c.type}`, c.status, c.reason, c.message].map(clean));
    lines.push(table(rows));
  }
  lines.push('', `Top hotspots (self time):`);
  const ended = s.status.phase === 'Completed' || s.status.phase === 'Failed';
  if (s.status.hotspots.length === 0) lines.push(ended ? (s.status.requestsProfiled === 0 ? '  (none: nothing was profiled)' : '  (none)') : '  (none yet)');
  else for (const h of s.status.hotspots.slice(0, top)) lines.push(`  ${h.selfPercent.toFixed(1).padStart(5)}%  ${clean(h.frame)}`);
  return lines.join('\n');
}
