import type { CallTree } from '../../src/model/call-tree.js';
import { topHotspots, type HotspotRow } from '../../src/model/hotspots.js';
import { frameLabel } from '../../src/model/frame.js';
import { h } from '../util/dom.js';
import { formatInt, formatShare, formatUs } from '../util/format.js';

export type HotspotSort = 'self' | 'total' | 'samples' | 'name';
export const HOTSPOT_SORTS: readonly HotspotSort[] = ['self', 'total', 'samples', 'name'];

export interface HotspotTableOptions {
  tree: CallTree;
  requests: number;
  sort: HotspotSort;
  /** The label the graph currently highlights (marks its row). */
  focused: string;
  onSort: (s: HotspotSort) => void;
  /** A row was clicked: highlight that function in the graph. */
  onFocus: (label: string) => void;
  /** The sandwich button of a row. */
  onSandwich: (label: string) => void;
  rows?: number;
  /** The application roots the tree's agents reported: files show relative to them (source-path.ts). */
  roots?: readonly string[];
}

/**
 * The session's hottest functions (src/model/hotspots.ts; recursion counted once): self and total
 * time with their shares and per request, samples. Sortable; a click focuses the graph on that
 * function, and each row opens its sandwich.
 */
export function hotspotTable(o: HotspotTableOptions): HTMLTableElement {
  const t = o.tree;
  // The hottest functions by self (or total) time; name and samples re-order those, not the whole tree.
  const top = topHotspots(t, { limit: o.rows ?? 40, by: o.sort === 'total' ? 'total' : 'self' });
  const byTime = t.total.wallUs[0]! > 0;
  const rows = sortRows(top, o.sort);
  const req = o.requests > 0 ? o.requests : 0;
  const th = (key: HotspotSort | '', label: string, cls = 'num', title?: string): HTMLElement => {
    if (!key) return h('th', { class: cls, title }, label);
    const active = o.sort === key;
    return h(
      'th',
      { class: `${cls} sortable`, 'aria-sort': active ? (key === 'name' ? 'ascending' : 'descending') : undefined, title: title ?? `Sort by ${label.toLowerCase()}`, tabindex: 0, 'data-sort': key, onclick: () => o.onSort(key), onkeydown: (ev: Event) => (ev as KeyboardEvent).key === 'Enter' && o.onSort(key) },
      label,
      active ? h('span', { class: 'sort-arrow', 'aria-hidden': 'true' }, key === 'name' ? ' ↑' : ' ↓') : null,
    );
  };
  const value = (r: HotspotRow, which: 'self' | 'total'): string => (byTime ? formatUs(r[which].wallUs) : formatInt(r[which].samples));
  const perReq = (r: HotspotRow, which: 'self' | 'total'): string => (req && byTime ? formatUs(r[which].wallUs / req) : '–');
  return h(
    'table',
    { class: 'table hotspot-table' },
    h('caption', { class: 'sr-only' }, 'Hottest functions of this tree'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        th('name', 'Function', 'fn'),
        th('self', 'Self', 'num', 'Time in the function itself: sort by self'),
        th('', 'Self / req', 'num', 'Self time per profiled request'),
        th('total', 'Total', 'num', 'Time in the function and everything it calls: sort by total'),
        th('', 'Total / req', 'num', 'Total time per profiled request'),
        th('samples', 'Samples'),
        th('', '', 'num'),
      ),
    ),
    h(
      'tbody',
      {},
      ...rows.map((r) => {
        const label = frameLabel(r.frame, o.roots);
        const tr = h(
          'tr',
          { class: `${label === o.focused ? 'is-focused ' : ''}kind-${r.frame.kind}`, 'data-label': label, tabindex: 0, title: 'Highlight in the graph' },
          h('td', { class: 'fn' }, h('div', { class: 'fn-name mono' }, r.frame.name), r.frame.file ? h('div', { class: 'fn-where mono small muted' }, label.slice(r.frame.name.length).trim()) : null),
          h('td', { class: 'num' }, h('div', { class: 'share' }, h('span', { class: 'share-bar', style: `width:${(r.selfFraction * 100).toFixed(1)}%` }), h('span', { class: 'share-text' }, formatShare(r.selfFraction))), h('div', { class: 'small muted' }, value(r, 'self'))),
          h('td', { class: 'num' }, perReq(r, 'self')),
          h('td', { class: 'num' }, formatShare(r.totalFraction), h('div', { class: 'small muted' }, value(r, 'total'))),
          h('td', { class: 'num' }, perReq(r, 'total')),
          h('td', { class: 'num' }, formatInt(r.self.samples), h('div', { class: 'small muted' }, `of ${formatInt(r.total.samples)}`)),
          h('td', { class: 'num' }, h('button', { type: 'button', class: 'btn btn-small row-action sandwich-btn', title: `Callers and callees of ${r.frame.name}`, onclick: (ev: Event) => (ev.stopPropagation(), o.onSandwich(label)) }, 'Sandwich')),
        );
        tr.addEventListener('click', () => o.onFocus(label));
        tr.addEventListener('keydown', (ev) => {
          if (ev.key === 'Enter' && ev.target === tr) o.onFocus(label);
        });
        return tr;
      }),
    ),
  );
}

function sortRows(rows: HotspotRow[], sort: HotspotSort): HotspotRow[] {
  const out = [...rows];
  if (sort === 'samples') out.sort((a, b) => b.self.samples - a.self.samples || b.total.samples - a.total.samples);
  else if (sort === 'name') out.sort((a, b) => a.frame.name.localeCompare(b.frame.name));
  return out; // self and total come ranked from topHotspots
}
