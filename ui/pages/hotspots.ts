import { frameLabel, makeFrame } from '../../src/model/frame.js';
import { api } from '../api/client.js';
import type { HotspotRowView, HotspotsResponse } from '../api/types.js';
import { emptyState, errorState, kubectlSnippet, loadingState, snippet } from '../components/states.js';
import { href, sessionHref, setParams, type Route } from '../router.js';
import { clear, h } from '../util/dom.js';
import { formatInt, formatPercent, formatUs } from '../util/format.js';
import type { PageFactory } from './page.js';

/**
 * Cluster-wide hotspots: across every session (filtered by namespace, workload, request type), the
 * functions with the most self time, each broken down by workload and request type and linked to the
 * sessions that saw it.
 */
export const hotspotsPage: PageFactory = (root, route) => {
  let params = route.params;
  let destroyed = false;
  let seq = 0;
  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter hotspots' });
  const body = h('div', { class: 'page-body' });
  root.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Hotspots across sessions'), h('p', { class: 'lede' }, 'Where sampled time goes, cluster-wide: functions by self time, grouped by workload and request type.')),
    filters,
    body,
  );

  const fields = ['namespace', 'workload', 'request'] as const;
  const inputs = Object.fromEntries(
    fields.map((f) => [f, h('input', { name: f, value: params.get(f) ?? '', placeholder: f === 'request' ? 'GET /api/orders/:id' : 'any', list: `dl-${f}`, autocomplete: 'off' })]),
  ) as Record<(typeof fields)[number], HTMLInputElement>;
  const lists = Object.fromEntries(fields.map((f) => [f, h('datalist', { id: `dl-${f}` })])) as Record<(typeof fields)[number], HTMLDataListElement>;
  filters.append(
    ...fields.map((f) => h('label', { class: 'field field-inline' }, h('span', { class: 'field-label' }, f === 'request' ? 'Request type' : f[0]!.toUpperCase() + f.slice(1)), inputs[f], lists[f])),
    h('button', { type: 'submit', class: 'btn' }, 'Apply'),
    h('a', { href: href('/hotspots'), class: 'btn btn-quiet' }, 'Clear'),
  );
  filters.addEventListener('submit', (ev) => {
    ev.preventDefault();
    setParams(Object.fromEntries(fields.map((f) => [f, inputs[f].value.trim() || undefined])), true);
  });

  const load = (): void => {
    const my = ++seq;
    clear(body);
    body.append(loadingState('Loading hotspots…'));
    const q = { namespace: params.get('namespace') ?? undefined, workload: params.get('workload') ?? undefined, request: params.get('request') ?? undefined };
    // Session names make the links readable; the hotspots answer only carries ids.
    const names = api.sessions().then(
      (items) => new Map(items.map((s) => [s.id, `${s.namespace}/${s.name}`])),
      () => new Map<string, string>(),
    );
    Promise.all([api.hotspots(q), names]).then(
      ([r, n]) => {
        if (destroyed || my !== seq) return;
        clear(body);
        fillLists(r);
        body.append(r.items.length ? hotspotTable(r, n) : noHotspots(Object.values(q).some(Boolean)));
      },
      (err: unknown) => {
        if (destroyed || my !== seq) return;
        clear(body);
        body.append(errorState(err, load));
      },
    );
  };

  const fillLists = (r: HotspotsResponse): void => {
    const seen = { namespace: new Set<string>(), workload: new Set<string>(), request: new Set<string>() };
    for (const row of r.items) for (const g of row.groups) (seen.namespace.add(g.namespace), seen.workload.add(g.workload), seen.request.add(g.request));
    for (const f of fields) lists[f].replaceChildren(...[...seen[f]].sort().map((v) => h('option', { value: v })));
  };

  load();
  return {
    update(r: Route) {
      params = r.params;
      for (const f of fields) inputs[f].value = params.get(f) ?? '';
      load();
    },
    destroy() {
      destroyed = true;
    },
  };
};

function noHotspots(filtered: boolean): HTMLElement {
  return filtered
    ? emptyState('Nothing matches these filters', 'No session with samples matches this namespace, workload and request type. Clear a filter to widen the view.')
    : emptyState('No hotspots yet', 'Hotspots appear once a profiling session has sampled some requests. Start one:', snippet(kubectlSnippet()));
}

function hotspotTable(r: HotspotsResponse, names: Map<string, string>): HTMLElement {
  const max = Math.max(...r.items.map((i) => i.selfPercent), 1e-9);
  return h(
    'div',
    { class: 'card table-card' },
    h(
      'table',
      { class: 'table hotspots-global' },
      h('caption', { class: 'sr-only' }, 'Top functions by self time across sessions'),
      h(
        'thead',
        {},
        h('tr', {}, h('th', {}, 'Function'), h('th', { class: 'num' }, 'Self'), h('th', { class: 'num' }, 'Self time'), h('th', { class: 'num' }, 'Total'), h('th', { class: 'num' }, 'Samples'), h('th', {}, 'Where: workload · request type')),
      ),
      h('tbody', {}, ...r.items.map((row) => hotspotRow(row, max, names, r.roots ?? []))),
    ),
    h('p', { class: 'table-foot muted' }, `Shares are of ${formatUs(r.totalUs)} of sampled wall time in the selected sessions.`),
  );
}

function hotspotRow(row: HotspotRowView, max: number, names: Map<string, string>, roots: readonly string[]): HTMLTableRowElement {
  const f = row.frame;
  let label: string;
  try {
    label = frameLabel(makeFrame(f.name, f.file, f.line, 0, f.kind), roots);
  } catch {
    label = f.name;
  }
  const groups = [...row.groups].sort((a, b) => b.selfUs - a.selfUs);
  return h(
    'tr',
    { class: `kind-${f.kind}` },
    h('td', {}, h('div', { class: 'fn-name mono', title: label }, f.name), h('div', { class: 'fn-where muted small mono' }, label.slice(f.name.length).trim())),
    h('td', { class: 'num' }, h('div', { class: 'share' }, h('span', { class: 'share-bar', style: `width:${((row.selfPercent / max) * 100).toFixed(1)}%` }), h('span', { class: 'share-text' }, formatPercent(row.selfPercent)))),
    h('td', { class: 'num' }, formatUs(row.selfUs)),
    h('td', { class: 'num' }, `${formatPercent(row.totalPercent)}`),
    h('td', { class: 'num' }, formatInt(row.samples)),
    h(
      'td',
      {},
      h(
        'ul',
        { class: 'groups' },
        ...groups.map((g) =>
          h(
            'li',
            {},
            h('span', { class: 'group-what' }, h('strong', {}, g.workload), ' · ', h('span', { class: 'mono' }, g.request), h('span', { class: 'muted' }, ` (${g.namespace})`)),
            h('span', { class: 'group-time muted' }, formatUs(g.selfUs)),
            h(
              'span',
              { class: 'group-sessions' },
              ...g.sessions.slice(0, 4).map((s) => h('a', { href: sessionHref(s, { q: label }), title: `Open the session with ${f.name} highlighted` }, names.get(s) ?? s.slice(0, 8))),
              g.sessions.length > 4 ? h('span', { class: 'muted' }, ` +${g.sessions.length - 4}`) : null,
            ),
          ),
        ),
      ),
    ),
  );
}
