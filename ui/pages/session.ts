import { byFunction, type FunctionTree } from '../../src/model/by-function.js';
import type { CallTree } from '../../src/model/call-tree.js';
import { diffTrees } from '../../src/model/diff.js';
import { frameLabel } from '../../src/model/frame.js';
import { deserializeTree } from '../../src/model/serialized.js';
import { api, type TreeQuery } from '../api/client.js';
import { live } from '../api/events.js';
import type { SessionView } from '../api/types.js';
import { searchBox, segmented, select, setSegmented } from '../components/controls.js';
import { diffTooltip } from '../components/diff-tooltip.js';
import { exportLinks } from '../components/export-links.js';
import { FlameView } from '../components/flame-view.js';
import { HOTSPOT_SORTS, hotspotTable, type HotspotSort } from '../components/hotspot-table.js';
import { diffLegend, legend } from '../components/legend.js';
import { SandwichView } from '../components/sandwich-view.js';
import { sessionHeader } from '../components/session-header.js';
import { emptyState, errorState, loadingState } from '../components/states.js';
import { treeTooltip } from '../components/tree-tooltip.js';
import { makeDiffModel, type DiffModel } from '../flame/diff-model.js';
import type { Orientation } from '../flame/flame-chart.js';
import { DIFF_PALETTE, DIFF_STEPS, KIND_LEGEND } from '../flame/palette.js';
import { makeTreeModel, type TreeModel, type ViewModel } from '../flame/tree-model.js';
import { setParams, type Route } from '../router.js';
import { h, isTyping } from '../util/dom.js';
import { formatInt, formatShare } from '../util/format.js';
import type { PageFactory } from './page.js';

/** The view state a session page reads from its URL. */
export interface SessionState {
  mode: 'tree' | 'diff';
  view: Orientation;
  zoom: string;
  q: string;
  pod: string;
  fn: string;
  sort: HotspotSort;
}

export function readSessionState(p: URLSearchParams): SessionState {
  const sort = p.get('sort') as HotspotSort | null;
  return {
    mode: p.get('mode') === 'diff' ? 'diff' : 'tree',
    view: p.get('view') === 'icicle' ? 'icicle' : 'flame',
    zoom: p.get('zoom') ?? '',
    q: p.get('q') ?? '',
    pod: p.get('pod') ?? '',
    fn: p.get('fn') ?? '',
    sort: sort && HOTSPOT_SORTS.includes(sort) ? sort : 'self',
  };
}

interface LoadedTree {
  /** The tree by function (agents report lines; views list functions). */
  tree: CallTree;
  /** The lines each function merges, for tooltips and the sandwich. */
  fn: FunctionTree;
  /** The tree as the agents reported it, per line. */
  lines: CallTree;
  requests: number;
  /** The application roots the tree's agents reported (source-path.ts). */
  roots: readonly string[];
}

/**
 * One session: its flame graph or icicle (zoom, search, tooltips), pod filter, the slow-vs-typical
 * differential graph, hotspot table, sandwich of one function and exports. Every control writes the
 * URL; `update` reads it back, so the URL always reopens the exact view.
 */
export const sessionPage: PageFactory = (root, route) => {
  const id = route.page === 'session' ? route.id : '';
  let state = readSessionState(route.params);
  let session: SessionView | undefined;
  let destroyed = false;
  const trees = new Map<string, Promise<LoadedTree>>();
  /** What the main chart shows now, and the key of the data it was built from. */
  let shown: { key: string; model: ViewModel; tree?: TreeModel; diff?: DiffModel } | undefined;
  let loadingKey = '';
  /** The merged tree of the current pod filter, for the hotspot table and sandwich (both modes). */
  let base: { key: string; tree: CallTree; fn: FunctionTree; requests: number; roots: readonly string[]; labels: string[] } | undefined;
  /** Rows of the hotspot table; "Show more" grows it. */
  let hotspotRows = 15;

  const head = h('div', { class: 'page-head' });
  const toolbar = h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'View controls' });
  const chartHead = h('div', { class: 'chart-head' });
  const chartNote = h('p', { class: 'chart-note muted small' });
  const chartBody = h('div', { class: 'chart-body' });
  const chartCard = h('section', { class: 'card chart-card', 'aria-label': 'Flame graph' }, chartHead, chartNote, chartBody);
  const hotspotsCard = h('section', { class: 'card hotspots-card', 'aria-label': 'Hotspots' });
  const sandwichCard = h('section', { class: 'card sandwich-card', 'aria-label': 'Sandwich' });
  const lower = h('div', { class: 'lower' }, hotspotsCard, sandwichCard);
  lower.hidden = true; // until the tree is in: then shown, unless it holds nothing
  const body = h('div', { class: 'page-body' }, toolbar, chartCard, lower);
  root.append(head, body);
  head.append(loadingState('Loading session…'));
  body.hidden = true;

  const search = searchBox(state.q, (q) => setParams({ q }));
  const modeCtl = segmented(
    'What to show',
    [
      { value: 'tree', label: 'Call tree', title: 'Every profiled request merged' },
      { value: 'diff', label: 'Slow vs typical', title: 'The slowest requests (≥ p90) against typical ones (≤ p50)' },
    ] as const,
    state.mode,
    (mode) => setParams({ mode: mode === 'tree' ? undefined : mode, zoom: undefined }, true),
  );
  const viewCtl = segmented(
    'Orientation',
    [
      { value: 'flame', label: 'Flame', title: 'Roots at the bottom' },
      { value: 'icicle', label: 'Icicle', title: 'Roots at the top' },
    ] as const,
    state.view,
    (view) => setParams({ view: view === 'flame' ? undefined : view }),
  );
  let podCtl: HTMLElement | undefined;

  const flame = new FlameView(chartBody, {
    orientation: state.view,
    ariaLabel: 'Flame graph of the session',
    onZoom: (zoom) => setParams({ zoom }, true),
    tooltip: (node) => {
      if (shown?.tree) return treeTooltip(shown.tree)(node);
      if (shown?.diff) return diffTooltip(shown.diff)(node);
      return document.createTextNode('');
    },
    actions: (node, m) =>
      node === 0
        ? []
        : [h('button', { type: 'button', class: 'btn btn-small sandwich-zoomed', title: 'Who calls this function, and what it calls', onclick: () => setParams({ fn: m.label(node) }, true) }, 'Sandwich')],
  });
  const sandwichView = new SandwichView(sandwichCard);

  const fetchTree = (q: TreeQuery): Promise<LoadedTree> => {
    const key = `${q.pod ?? ''}|${q.split ?? ''}`;
    let p = trees.get(key);
    if (!p) {
      p = api.tree(id, q).then((r) => {
        const lines = deserializeTree(r.tree);
        const fn = byFunction(lines);
        return { tree: fn.tree, fn, lines, requests: r.requests, roots: r.roots ?? [] };
      });
      trees.set(key, p);
      p.catch(() => trees.delete(key));
    }
    return p;
  };

  const renderToolbar = (): void => {
    const pods = session?.status.pods ?? [];
    podCtl = select(
      'Pod',
      'pod',
      [{ value: '', label: `All pods (${pods.length})` }, ...pods.map((p) => ({ value: p.name, label: `${p.name} · ${formatInt(p.requests)} req` }))],
      state.pod,
      (pod) => setParams({ pod, zoom: undefined }, true),
    );
    toolbar.replaceChildren(h('div', { class: 'toolbar-group' }, modeCtl, viewCtl, podCtl), h('div', { class: 'toolbar-group toolbar-search' }, search.element));
  };

  const renderSearchSummary = (): void => {
    const r = flame.search;
    search.summary.textContent = !state.q ? '' : !r || r.nodes === 0 ? 'no match' : `${formatInt(r.frames)} function${r.frames === 1 ? '' : 's'} · ${formatShare(r.share)} of total`;
    search.summary.classList.toggle('no-match', !!state.q && (!r || r.nodes === 0));
  };

  const setChartState = (content: 'chart' | HTMLElement): void => {
    for (const el of chartBody.querySelectorAll(':scope > .state')) el.remove();
    flame.element.hidden = content !== 'chart';
    if (content !== 'chart') chartBody.append(content);
  };

  /** The key of what the main chart should show for the current state. */
  const chartKey = (): string => `${state.mode}|${state.pod}`;

  const renderChart = (): void => {
    const key = chartKey();
    if (shown?.key === key) {
      flame.setState({ zoom: state.zoom, query: state.q, orientation: state.view });
      renderSearchSummary();
      return;
    }
    if (loadingKey === key) return;
    loadingKey = key;
    const pod = state.pod || undefined;
    const isDiff = state.mode === 'diff';
    chartHead.replaceChildren(
      h('h2', {}, isDiff ? 'Slow vs typical requests' : 'Call tree'),
      isDiff ? diffLegend(diffScale(), 'less in slow', 'more in slow', 'slow requests') : legend(KIND_LEGEND),
      isDiff
        ? h('div', { class: 'exports-pair' }, exportLinks(id, { pod, split: 'slow' }, 'Export slow'), exportLinks(id, { pod, split: 'typical' }, 'Export typical'))
        : exportLinks(id, { pod }),
    );
    chartNote.textContent = '';
    chartBody.classList.add('is-loading');
    // Nothing drawn yet: say what is coming rather than show an empty card (a drawn chart stays, dimmed).
    if (!shown) setChartState(loadingState(isDiff ? 'Loading the slow and typical requests…' : 'Loading the call tree…'));
    const done = (): boolean => {
      if (destroyed || loadingKey !== key) return false;
      loadingKey = '';
      chartBody.classList.remove('is-loading');
      return true;
    };
    const loaded = isDiff
      ? Promise.all([fetchTree({ pod, split: 'typical' }), fetchTree({ pod, split: 'slow' })]).then(([typical, slow]) => {
          if (typical.tree.size <= 1 || slow.tree.size <= 1) return { key, empty: true as const, requests: typical.requests + slow.requests };
          // Both sides by function with one line per function, so the diff pairs a function's bars.
          const t = byFunction(typical.lines, { alsoLinesOf: slow.lines.frames }).tree;
          const sl = byFunction(slow.lines, { alsoLinesOf: typical.lines.frames }).tree;
          const roots = [...new Set([...typical.roots, ...slow.roots])];
          const diff = makeDiffModel(diffTrees(t, sl), { base: 'typical', next: 'slow' }, { base: typical.requests, next: slow.requests }, roots);
          chartNote.textContent = `Slow: the ${formatInt(slow.requests)} request${slow.requests === 1 ? '' : 's'} at or above the p90 duration. Typical: the ${formatInt(typical.requests)} at or below the median.${diff.hiddenBaseShare > 0.001 ? ` Paths only typical requests took (${formatShare(diff.hiddenBaseShare)} of their time) have no width here.` : ''}`;
          return { key, model: diff as ViewModel, diff };
        })
      : fetchTree({ pod }).then(({ tree, fn, requests, roots }) => {
          if (tree.size <= 1) return { key, empty: true as const, requests };
          const model = makeTreeModel(tree, requests, `all ${formatInt(requests)} request${requests === 1 ? '' : 's'}${state.pod ? ` on ${state.pod}` : ''}`, fn.nodeLines, roots);
          return { key, model: model as ViewModel, tree: model };
        });
    loaded.then(
      (r) => {
        if (!done()) return;
        if ('empty' in r) {
          shown = undefined;
          // Nothing to draw, so nothing to export, colour-code or search: only the title and the reason.
          chartHead.replaceChildren(h('h2', {}, isDiff ? 'Slow vs typical requests' : 'Call tree'));
          // With no filter there is nothing to switch to either; a pod filter keeps its way back.
          toolbar.hidden = !isDiff && !state.pod;
          setChartState(isDiff ? notEnoughToSplit() : noSamples());
          renderSearchSummary();
          return;
        }
        shown = r;
        toolbar.hidden = false;
        setChartState('chart');
        flame.setModel(r.model, { zoom: state.zoom, query: state.q });
        flame.setState({ orientation: state.view });
        renderSearchSummary();
      },
      (err: unknown) => {
        if (!done()) return;
        shown = undefined;
        setChartState(errorState(err, () => renderChart()));
      },
    );
  };

  /** The hotspot table and the sandwich, from the merged tree of the current pod filter. */
  const renderLower = (): void => {
    const key = state.pod;
    const pod = state.pod || undefined;
    if (base?.key !== key) {
      fetchTree({ pod }).then(
        ({ tree, fn, requests, roots }) => {
          if (destroyed || state.pod !== key) return;
          base = { key, tree, fn, requests, roots, labels: tree.frames.map((f) => frameLabel(f, roots)) };
          // After the graph has painted: the table can wait a frame, the graph should not.
          requestAnimationFrame(() => setTimeout(() => !destroyed && renderLower(), 0));
        },
        () => {
          /* the chart shows the error */
        },
      );
      return;
    }
    const b = base;
    if (b.tree.size <= 1) {
      lower.hidden = true;
      return;
    }
    lower.hidden = false;
    renderSandwich(b);
    // The table depends on the tree, the sort and its length; the search only moves the focus mark.
    const tableKey = `${key}|${state.sort}|${hotspotRows}`;
    if (hotspotsCard.dataset['key'] === tableKey) {
      for (const tr of hotspotsCard.querySelectorAll<HTMLTableRowElement>('tbody tr')) tr.classList.toggle('is-focused', tr.dataset['label'] === state.q);
      return;
    }
    hotspotsCard.dataset['key'] = tableKey;
    const table = hotspotTable({
      tree: b.tree,
      requests: b.requests,
      roots: b.roots,
      rows: hotspotRows,
      sort: state.sort,
      focused: state.q,
      onSort: (sort) => setParams({ sort: sort === 'self' ? undefined : sort }),
      onFocus: (label) => {
        const next = label === state.q ? '' : label;
        search.input.value = next;
        setParams({ q: next || undefined });
        if (next) chartCard.scrollIntoView({ block: 'start', behavior: 'smooth' });
      },
      onSandwich: (label) => {
        setParams({ fn: label }, true);
        sandwichCard.scrollIntoView({ block: 'start', behavior: 'smooth' });
      },
    });
    const more = table.tBodies[0]!.rows.length >= hotspotRows;
    hotspotsCard.replaceChildren(
      h('div', { class: 'panel-head' }, h('h2', {}, 'Hotspots'), h('span', { class: 'hint muted' }, 'Functions by self time, wherever they were called from. Click a row to highlight it in the graph.')),
      h('div', { class: 'table-scroll' }, table),
      ...(more ? [h('div', { class: 'table-more' }, h('button', { type: 'button', class: 'btn btn-small', onclick: () => ((hotspotRows += 25), renderLower()) }, 'Show more'))] : []),
    );
  };

  const renderSandwich = (b: NonNullable<typeof base>): void => {
    const key = b.key;
    if (state.fn) {
      sandwichCard.classList.remove('is-hint');
      if (sandwichCard.dataset['fn'] !== `${key}|${state.fn}`) {
        sandwichCard.dataset['fn'] = `${key}|${state.fn}`;
        sandwichView.show(b.tree, b.requests, state.fn, b.labels, () => setParams({ fn: undefined }, true), b.fn.frameLines, b.roots);
      }
      sandwichView.search(state.q);
    } else {
      sandwichCard.dataset['fn'] = '';
      sandwichView.clear();
      sandwichCard.classList.add('is-hint');
      sandwichView.element.append(
        h('div', { class: 'panel-head' }, h('h2', {}, 'Sandwich')),
        h('p', { class: 'muted' }, 'Pick a function — the Sandwich button of a hotspot row, or of the bar you zoomed into — to see who calls it (above) and what it calls (below), merged from every place it runs.'),
      );
    }
  };

  const noSamples = (): HTMLElement => {
    const phase = session?.status.phase;
    const request = session?.spec.request ?? 'the chosen request type';
    if (phase === 'Pending' || phase === 'Running') {
      return emptyState('No samples yet', `The session is ${phase.toLowerCase()}: it profiles the next ${session?.spec.requests ?? ''} "${request}" requests on the selected pods. The graph appears as soon as the first requests finish — send some traffic.`);
    }
    return emptyState('This session profiled nothing', `No "${request}" request reached the selected pods${state.pod ? ` (pod ${state.pod})` : ''} before the session ended. Check the request type and the selector, then start a new session.`);
  };

  const notEnoughToSplit = (): HTMLElement =>
    emptyState('Not enough requests to compare', 'Slow vs typical needs requests on both sides of the latency distribution (at or above p90, at or below the median). Let the session profile more requests, or pick "All pods".');

  const render = (): void => {
    renderChart();
    renderLower();
  };

  api.session(id).then(
    (s) => {
      if (destroyed) return;
      session = s;
      head.replaceChildren(sessionHeader(s));
      document.title = `${s.name} · Sonde`;
      body.hidden = false;
      renderToolbar();
      render();
    },
    (err: unknown) => {
      if (destroyed) return;
      head.replaceChildren(errorState(err, () => location.reload()));
    },
  );

  const unsubscribe = live.subscribe({
    session: (s) => {
      if (s.id !== id || destroyed) return;
      const before = session?.status.requestsProfiled ?? 0;
      session = s;
      head.replaceChildren(sessionHeader(s));
      if (s.status.requestsProfiled > before) {
        // New requests landed: drop cached trees; draw now if nothing is drawn yet, else offer it.
        trees.clear();
        if (!shown) {
          base = undefined;
          render();
        } else if (!chartCard.querySelector('.refresh')) {
          chartHead.append(
            h('button', { type: 'button', class: 'btn btn-small refresh', onclick: () => ((shown = undefined), (base = undefined), render()) }, 'New requests profiled — refresh'),
          );
        }
      }
    },
  });

  const onKey = (ev: KeyboardEvent): void => {
    if (ev.key === '/' && !isTyping(ev.target) && !ev.ctrlKey && !ev.metaKey) {
      ev.preventDefault();
      search.input.focus();
      search.input.select();
    } else if (ev.key === 'Escape') {
      if (ev.target === search.input) {
        search.input.value = '';
        search.input.blur();
        setParams({ q: undefined });
      } else if (!isTyping(ev.target)) {
        search.input.value = '';
        setParams({ zoom: undefined, q: undefined });
      }
    }
  };
  document.addEventListener('keydown', onKey);

  return {
    update(r: Route) {
      if (r.page !== 'session') return;
      state = readSessionState(r.params);
      if (search.input.value !== state.q && document.activeElement !== search.input) search.input.value = state.q;
      setSegmented(modeCtl, state.mode);
      setSegmented(viewCtl, state.view);
      const podSel = podCtl?.querySelector('select');
      if (podSel && podSel.value !== state.pod) podSel.value = state.pod;
      if (session) render();
    },
    destroy() {
      destroyed = true;
      unsubscribe();
      document.removeEventListener('keydown', onKey);
      flame.destroy();
      sandwichView.destroy();
    },
  };
};

/** The diverging palette's colours from "less" to "more", for the legend's gradient. */
function diffScale(): string[] {
  const out: string[] = [];
  for (let i = 0; i <= 2 * DIFF_STEPS; i += 2) out.push(DIFF_PALETTE[i]!.fill);
  return out;
}
