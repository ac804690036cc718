import type { SessionView } from '../api/types.js';
import { formatInt } from '../util/format.js';
import { h } from '../util/dom.js';
import { overshootText } from './session-notes.js';

/** Small pieces every page that lists a session reuses: its phase and its progress. */

export function phaseBadge(phase: string): HTMLElement {
  return h('span', { class: `badge phase-${phase.toLowerCase()}` }, phase);
}

/** Progress as `37/100` with a bar; indeterminate stripes while Pending. */
export function progressBar(s: SessionView): HTMLElement {
  const done = s.status.requestsProfiled ?? 0;
  const want = s.spec.requests || 1;
  const pct = Math.max(0, Math.min(100, (done / want) * 100));
  const bar = h(
    'div',
    {
      class: `progress phase-${s.status.phase.toLowerCase()}`,
      role: 'progressbar',
      'aria-valuemin': 0,
      'aria-valuemax': want,
      'aria-valuenow': done,
      'aria-label': `${done} of ${want} requests profiled`,
    },
    h('div', { class: 'progress-fill', style: `width:${pct.toFixed(1)}%` }),
  );
  // Above N: the figure is the one the operator stored (every place shows the same), and says why.
  const over = overshootText(s);
  const text = h('span', { class: `progress-text${over ? ' progress-over' : ''}`, ...(over ? { title: over } : {}) }, `${formatInt(done)}/${formatInt(want)}`);
  return h('div', { class: 'progress-wrap' }, bar, text);
}

/** Pods as a count with their states, e.g. `3 pods · 2 sampling`. */
export function podsSummary(s: SessionView): string {
  const pods = s.status.pods ?? [];
  if (pods.length === 0) return s.status.phase === 'Pending' ? 'waiting for pods' : 'no pods';
  const states = new Map<string, number>();
  for (const p of pods) states.set(p.state, (states.get(p.state) ?? 0) + 1);
  const parts = [...states].filter(([st]) => st !== 'Done').map(([st, n]) => `${n} ${st.toLowerCase()}`);
  return `${pods.length} pod${pods.length === 1 ? '' : 's'}${parts.length ? ` · ${parts.join(', ')}` : ''}`;
}
