import type { CallTree } from '../../src/model/call-tree.js';
import { deserializeTree } from '../../src/model/serialized.js';
import { api, type TreeQuery } from '../api/client.js';
import { live } from '../api/events.js';
import type { SessionView } from '../api/types.js';
import { searchBox, segmented, select, setSegmented } from '../components/controls.js';
import { FlameView } from '../components/flame-view.js';
import { legend } from '../components/legend.js';
import { sessionHeader } from '../components/session-header.js';
import { emptyState, errorState, loadingState } from '../components/states.js';
import { treeTooltip } from '../components/tree-tooltip.js';
import type { Orientation } from '../flame/flame-chart.js';
import { KIND_LEGEND } from '../flame/palette.js';
import { makeTreeModel, type TreeModel } from '../flame/tree-model.js';
import { setParams, type Route } from '../router.js';
import { clear, h, isTyping } from '../util/dom.js';
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
}

export function readSessionState(p: URLSearchParams): SessionState {
  return {
    mode: p.get('mode') === 'diff' ? 'diff' : 'tree',
    view: p.get('view') === 'icicle' ? 'icicle' : 'flame',
    zoom: p.get('zoom') ?? '',
    q: p.get('q') ?? '',
    pod: p.get('pod') ?? '',
    fn: p.get('fn') ?? '',
  };
}

interface LoadedTree {
  tree: CallTree;
  requests: number;
}

/**
 * One session: its flame graph or icicle (zoom, search, tooltips), pod filter, the slow-vs-typical
 * differential graph, hotspot table, sandwich of one function and exports. Every control writes the
 * URL; `update` reads it back, so the URL always reopens the exact view.
 */
export const sessionPage: PageFactory = (root, route, _ctx) => {
  const id = route.page === 'session' ? route.id : '';
  let state = readSessionState(route.params);
  let session: SessionView | undefined;
  let destroyed = false;
  const trees = new Map<string, Promise<LoadedTree>>();
  let model: TreeModel | undefined;
  let loadedKey = '';

  const head = h('div', { class: 'page-head' });
  const toolbar = h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'View controls' });
  const chartHead = h('div', { class: 'chart-head' });
  const chartBody = h('div', { class: 'chart-body' });
  const chartCard = h('section', { class: 'card chart-card', 'aria-label': 'Call tree' }, chartHead, chartBody);
  const lower = h('div', { class: 'lower' });
  const body = h('div', { class: 'page-body' }, toolbar, chartCard, lower);
  root.append(head, body);
  head.append(loadingState('Loading session…'));

  const search = searchBox(state.q, (q) => setParams({ q }));
  const modeCtl = segmented(
    'What to show',
    [
      { value: 'tree', label: 'Call tree', title: 'Every profiled request merged' },
      { value: 'diff', label: 'Slow vs typical', title: 'The slowest requests (≥ p90) against typical ones (≤ p50)' },
    ] as const,
    state.mode,
    (mode) => setParams({ mode: mode === 'tree' ? undefined : mode }, true),
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
    tooltip: (node) => (model ? treeTooltip(model)(node) : document.createTextNode('')),
  });

  const fetchTree = (q: TreeQuery): Promise<LoadedTree> => {
    const key = `${q.pod ?? ''}|${q.split ?? ''}`;
    let p = trees.get(key);
    if (!p) {
      p = api.tree(id, q).then((r) => ({ tree: deserializeTree(r.tree), requests: r.requests }));
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
      (pod) => setParams({ pod }, true),
    );
    toolbar.replaceChildren(
      h('div', { class: 'toolbar-group' }, modeCtl, viewCtl, podCtl),
      h('div', { class: 'toolbar-group toolbar-search' }, search.element),
    );
  };

  const renderSearchSummary = (): void => {
    const r = flame.search;
    search.summary.textContent = !state.q ? '' : !r || r.nodes === 0 ? 'no match' : `${formatInt(r.frames)} function${r.frames === 1 ? '' : 's'} · ${formatShare(r.share)} of total`;
    search.summary.classList.toggle('no-match', !!state.q && (!r || r.nodes === 0));
  };

  const showTree = (): void => {
    const key = `tree|${state.pod}`;
    if (key === loadedKey && model) {
      flame.setState({ zoom: state.zoom, query: state.q, orientation: state.view });
      renderSearchSummary();
      return;
    }
    loadedKey = key;
    chartHead.replaceChildren(h('h2', {}, 'Call tree'), legend(KIND_LEGEND));
    chartBody.classList.add('is-loading');
    fetchTree({ pod: state.pod || undefined }).then(
      ({ tree, requests }) => {
        if (destroyed || loadedKey !== key) return;
        chartBody.classList.remove('is-loading');
        clearEmpty();
        if (tree.size <= 1) {
          model = undefined;
          flame.element.hidden = true;
          chartBody.append(noSamples());
          return;
        }
        flame.element.hidden = false;
        model = makeTreeModel(tree, requests, `all ${formatInt(requests)} request${requests === 1 ? '' : 's'}${state.pod ? ` on ${state.pod}` : ''}`);
        flame.setModel(model, { zoom: state.zoom, query: state.q });
        flame.setState({ orientation: state.view });
        renderSearchSummary();
      },
      (err: unknown) => {
        if (destroyed || loadedKey !== key) return;
        chartBody.classList.remove('is-loading');
        loadedKey = '';
        clearEmpty();
        flame.element.hidden = true;
        chartBody.append(errorState(err, () => showTree()));
      },
    );
  };

  const clearEmpty = (): void => {
    for (const el of chartBody.querySelectorAll('.state')) el.remove();
  };

  const noSamples = (): HTMLElement => {
    const phase = session?.status.phase;
    const request = session?.spec.request ?? 'the chosen request type';
    if (phase === 'Pending' || phase === 'Running') {
      return emptyState('No samples yet', `The session is ${phase.toLowerCase()}: it profiles the next ${session?.spec.requests ?? ''} "${request}" requests on the selected pods. The graph appears as soon as the first requests finish — send some traffic.`);
    }
    return emptyState('This session profiled nothing', `No "${request}" request reached the selected pods${state.pod ? ` (pod ${state.pod})` : ''} before the session ended. Check the request type and the selector, then start a new session.`);
  };

  const render = (): void => {
    if (state.mode === 'tree') showTree();
  };

  api.session(id).then(
    (s) => {
      if (destroyed) return;
      session = s;
      head.replaceChildren(sessionHeader(s));
      document.title = `${s.name} · Sonde`;
      renderToolbar();
      render();
    },
    (err: unknown) => {
      if (destroyed) return;
      head.replaceChildren(errorState(err, () => location.reload()));
      body.hidden = true;
    },
  );

  const unsubscribe = live.subscribe({
    session: (s) => {
      if (s.id !== id || destroyed) return;
      const before = session?.status.requestsProfiled ?? 0;
      session = s;
      head.replaceChildren(sessionHeader(s));
      if (s.status.requestsProfiled > before) {
        // New requests landed: drop cached trees; redraw now if the graph is still empty, else offer it.
        trees.clear();
        if (!model) {
          loadedKey = '';
          render();
        } else if (!chartHead.querySelector('.refresh')) {
          chartHead.append(h('button', { type: 'button', class: 'btn btn-small refresh', onclick: () => ((loadedKey = ''), render()) }, 'New requests profiled — refresh'));
        }
      }
    },
  });

  const onKey = (ev: KeyboardEvent): void => {
    if (ev.key === '/' && !isTyping(ev.target)) {
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
      const next = readSessionState(r.params);
      const prev = state;
      state = next;
      if (search.input.value !== next.q && document.activeElement !== search.input) search.input.value = next.q;
      setSegmented(modeCtl, next.mode);
      setSegmented(viewCtl, next.view);
      const podSel = podCtl?.querySelector('select');
      if (podSel && podSel.value !== next.pod) podSel.value = next.pod;
      if (prev.mode !== next.mode || prev.pod !== next.pod) loadedKey = '';
      render();
    },
    destroy() {
      destroyed = true;
      unsubscribe();
      document.removeEventListener('keydown', onKey);
      flame.destroy();
    },
  };
};

void clear;
