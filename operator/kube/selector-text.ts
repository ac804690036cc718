import type { LabelSelector } from '../../src/session/types.js';

/** What the Selector printer column shows for an empty selector (every pod with an agent). */
export const ALL_PODS = '(all)';

/**
 * A label selector as text, in the syntax `kubectl -l` and the API's `labelSelector=` accept:
 * `app=web,tier in (a,b),!canary`. Written to status.selector for `kubectl get`.
 */
export function selectorText(selector: LabelSelector | undefined): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(selector?.matchLabels ?? {})) parts.push(`${k}=${v}`);
  for (const e of selector?.matchExpressions ?? []) {
    switch (e.operator) {
      case 'In':
        parts.push(`${e.key} in (${(e.values ?? []).join(',')})`);
        break;
      case 'NotIn':
        parts.push(`${e.key} notin (${(e.values ?? []).join(',')})`);
        break;
      case 'Exists':
        parts.push(e.key);
        break;
      case 'DoesNotExist':
        parts.push(`!${e.key}`);
        break;
    }
  }
  return parts.length ? parts.join(',') : ALL_PODS;
}
