import { format } from 'd3-format';

/** Number and time formatting shared by every page, so the same quantity always reads the same way. */

const pct1 = format('.1f');
const int = format(',d');
const sig3 = format('.3~r');

/** Microseconds as a human duration: `812 µs`, `4.21 ms`, `1.25 s`, `2.1 min`. */
export function formatUs(us: number): string {
  if (!Number.isFinite(us)) return '–';
  const a = Math.abs(us);
  if (a < 1) return us === 0 ? '0' : `${sig3(us)} µs`;
  if (a < 1000) return `${sig3(us)} µs`;
  if (a < 1e6) return `${sig3(us / 1000)} ms`;
  if (a < 60e6) return `${sig3(us / 1e6)} s`;
  return `${sig3(us / 60e6)} min`;
}

/** Milliseconds as a duration. */
export function formatMs(ms: number): string {
  return formatUs(ms * 1000);
}

/** A share (0–1) as a percentage; tiny non-zero shares say `<0.1%` rather than a misleading `0.0%`. */
export function formatShare(share: number): string {
  if (!Number.isFinite(share)) return '–';
  if (share > 0 && share < 0.001) return '<0.1%';
  return `${pct1(share * 100)}%`;
}

/** A percentage value already in 0–100. */
export function formatPercent(p: number): string {
  return formatShare(p / 100);
}

export function formatInt(n: number): string {
  return int(Math.round(n));
}

/** "3 min ago", "2 h ago", from an ISO date, against `now` (ms). */
export function formatAge(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '–';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '–';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${m % 60 ? ` ${m % 60}m` : ''}`;
  return `${Math.floor(h / 24)}d`;
}

/** A label selector as `k=v, k2=v2` (or "all pods with an agent" when empty). */
export function formatSelector(sel: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] }): string {
  const parts = Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of sel.matchExpressions ?? []) {
    if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
    else parts.push(`${e.key} ${e.operator === 'In' ? 'in' : 'notin'} (${(e.values ?? []).join(',')})`);
  }
  return parts.length ? parts.join(', ') : 'all pods with an agent';
}
