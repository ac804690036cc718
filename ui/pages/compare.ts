import { diffTrees } from '../../src/model/diff.js';
import { deserializeTree } from '../../src/model/serialized.js';
import { byFunction } from '../../src/model/by-function.js';
import { api } from '../api/client.js';
import type { SessionView } from '../api/types.js';
import { searchBox, segmented, setSegmented } from '../components/controls.js';
import { diffTooltip } from '../components/diff-tooltip.js';
import { exportLinks } from '../components/export-links.js';
import { FlameView } from '../components/flame-view.js';
import { diffLegend } from '../components/legend.js';
import { emptyState, errorState, kubectlSnippet, loadingState, snippet } from '../components/states.js';
import { makeDiffModel, type DiffModel } from '../flame/diff-model.js';
import { DIFF_PALETTE, DIFF_STEPS } from '../flame/palette.js';
import { setParams, sessionHref, type Route } from '../router.js';
import { h, isTyping } from '../util/dom.js';
import { formatAge, formatInt, formatShare } from '../util/format.js';
import type { PageFactory } from './page.js';

/**
 * Any two sessions as a differential flame graph: bars as wide as the new session's share, red where
 * it spends a larger share than the baseline, blue where less. `base`, `new`, zoom and search are in
 * the URL.
 */
export const comparePage: PageFactory = (root, route) => {
  let params = route.params;
  let destroyed = false;
  let sessions: SessionView[] = [];
  let shown: { key: string; model: DiffModel } | undefined;
  let loadingKey = '';

  const pick = h('div', { class: 'compare-pick' });
  const toolbar = h('div', { class: 'toolbar' });
  const chartHead = h('div', { class: 'chart-head' });
  const chartNote = h('p', { class: 'chart-note muted small' });
  const chartBody = h('div', { class: 'chart-body' });
  const chartCard = h('section', { class: 'card chart-card', 'aria-label': 'Differential flame graph' }, chartHead, chartNote, chartBody);
  const body = h('div', { class: 'page-body' }, pick, toolbar, chartCard);
  root.append(h('div', { class: 'page-head' }, h('h1', {}, 'Compare two sessions'), h('p', { class: 'lede' }, 'A baseline and a new session side by side, as one differential flame graph.')), body);
  chartCard.hidden = true;
  toolbar.hidden = true;
  pick.append(loadingState('Loading sessions…'));

  const search = searchBox(params.get('q') ?? '', (q) => setParams({ q }));
  const viewCtl = segmented(
    'Orientation',
    [
      { value: 'flame', label: 'Flame' },
      { value: 'icicle', label: 'Icicle' },
    ] as const,
    params.get('view') === 'icicle' ? 'icicle' : 'flame',
    (view) => setParams({ view: view === 'flame' ? undefined : view }),
  );
  toolbar.append(h('div', { class: 'toolbar-group' }, viewCtl), h('div', { class: 'toolbar-group' }, search.element));
  const flame = new FlameView(chartBody, {
    orientation: params.get('view') === 'icicle' ? 'icicle' : 'flame',
    ariaLabel: 'Differential flame graph',
    onZoom: (zoom) => setParams({ zoom }, true),
    tooltip: (node) => (shown ? diffTooltip(shown.model)(node) : document.createTextNode('')),
  });

  const renderPickers = (): void => {
    const choose = (name: 'base' | 'new', label: string): HTMLElement => {
      const sel = h('select', { name, 'aria-label': label });
      sel.append(h('option', { value: '' }, 'Choose a session…'));
      for (const s of sessions) {
        sel.append(h('option', { value: s.id, selected: params.get(name) === s.id }, `${s.namespace}/${s.name} · ${s.spec.request} · ${formatInt(s.status.requestsProfiled)} req · ${formatAge(s.createdAt)} ago`));
      }
      sel.addEventListener('change', () => setParams({ [name]: sel.value || undefined, zoom: undefined }, true));
      return h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), sel);
    };
    const swap = h('button', { type: 'button', class: 'btn', title: 'Swap baseline and new', onclick: () => setParams({ base: params.get('new') ?? undefined, new: params.get('base') ?? undefined, zoom: undefined }, true) }, '⇄ Swap');
    pick.replaceChildren(choose('base', 'Baseline'), swap, choose('new', 'New'));
  };

  const render = (): void => {
    const a = params.get('base') ?? '';
    const b = params.get('new') ?? '';
    for (const sel of pick.querySelectorAll('select')) if (sel.value !== (params.get(sel.name) ?? '')) sel.value = params.get(sel.name) ?? '';
    setSegmented(viewCtl, params.get('view') === 'icicle' ? 'icicle' : 'flame');
    if (search.input.value !== (params.get('q') ?? '') && document.activeElement !== search.input) search.input.value = params.get('q') ?? '';
    if (!a || !b) {
      chartCard.hidden = false;
      toolbar.hidden = true;
      flame.element.hidden = true;
      chartHead.replaceChildren();
      chartNote.textContent = '';
      setState(emptyState('Pick two sessions', 'Choose a baseline (before a change, or a healthy pod) and a new session (after it) of the same request type. Red bars take a larger share of time in the new one; blue, a smaller share.'));
      shown = undefined;
      return;
    }
    const key = `${a}|${b}`;
    if (shown?.key === key) {
      flame.setState({ zoom: params.get('zoom'), query: params.get('q'), orientation: params.get('view') === 'icicle' ? 'icicle' : 'flame' });
      summary();
      return;
    }
    if (loadingKey === key) return;
    loadingKey = key;
    chartCard.hidden = false;
    toolbar.hidden = false;
    const name = (id: string): string => {
      const s = sessions.find((x) => x.id === id);
      return s ? `${s.namespace}/${s.name}` : id;
    };
    chartHead.replaceChildren(
      h('h2', {}, h('a', { href: sessionHref(b) }, name(b)), h('span', { class: 'muted' }, ' vs '), h('a', { href: sessionHref(a) }, name(a))),
      diffLegend(DIFF_PALETTE.slice(0, 2 * DIFF_STEPS + 1).filter((_, i) => i % 2 === 0).map((e) => e.fill), 'less in new', 'more in new', 'the new session'),
      h('div', { class: 'exports-pair' }, exportLinks(b, {}, 'Export new'), exportLinks(a, {}, 'Export baseline')),
    );
    chartBody.classList.add('is-loading');
    // Nothing drawn yet: say what is coming rather than show an empty card (a drawn chart stays, dimmed).
    if (!shown) setState(loadingState('Loading both sessions…'));
    Promise.all([api.tree(a), api.tree(b)]).then(
      ([ra, rb]) => {
        if (destroyed || loadingKey !== key) return;
        loadingKey = '';
        chartBody.classList.remove('is-loading');
        // By function, one line per function on both sides, so the diff pairs a function's bars.
        const la = deserializeTree(ra.tree);
        const lb = deserializeTree(rb.tree);
        const ta = byFunction(la, { alsoLinesOf: lb.frames }).tree;
        const tb = byFunction(lb, { alsoLinesOf: la.frames }).tree;
        if (ta.size <= 1 || tb.size <= 1) {
          shown = undefined;
          // Only the title stays: a legend, search and exports have nothing to act on.
          chartHead.replaceChildren(chartHead.firstElementChild ?? '');
          toolbar.hidden = true;
          setState(emptyState('Nothing to compare yet', `${ta.size <= 1 ? name(a) : name(b)} has no samples. Pick a session that profiled some requests.`));
          return;
        }
        // Both sessions' application roots: a file shows relative to the longest that contains it (source-path.ts).
        const roots = [...new Set([...(ra.roots ?? []), ...(rb.roots ?? [])])];
        const model = makeDiffModel(diffTrees(ta, tb), { base: 'baseline', next: 'new' }, { base: ra.requests, next: rb.requests }, roots);
        shown = { key, model };
        chartNote.textContent = `New: ${formatInt(rb.requests)} requests. Baseline: ${formatInt(ra.requests)} requests. Shares are of each session's own total, so sessions of different sizes compare fairly.${model.hiddenBaseShare > 0.001 ? ` Paths only the baseline took (${formatShare(model.hiddenBaseShare)} of its time) have no width here.` : ''}`;
        setState('chart');
        flame.setModel(model, { zoom: params.get('zoom'), query: params.get('q') });
        flame.setState({ orientation: params.get('view') === 'icicle' ? 'icicle' : 'flame' });
        summary();
      },
      (err: unknown) => {
        if (destroyed || loadingKey !== key) return;
        loadingKey = '';
        chartBody.classList.remove('is-loading');
        shown = undefined;
        setState(errorState(err, render));
      },
    );
  };

  const summary = (): void => {
    const r = flame.search;
    const q = params.get('q');
    search.summary.textContent = !q ? '' : !r || r.nodes === 0 ? 'no match' : `${formatInt(r.frames)} function${r.frames === 1 ? '' : 's'} · ${formatShare(r.share)} of new`;
    search.summary.classList.toggle('no-match', !!q && (!r || r.nodes === 0));
  };

  const setState = (content: 'chart' | HTMLElement): void => {
    for (const el of chartBody.querySelectorAll(':scope > .state')) el.remove();
    flame.element.hidden = content !== 'chart';
    if (content !== 'chart') chartBody.append(content);
  };

  api.sessions().then(
    (items) => {
      if (destroyed) return;
      sessions = items;
      if (items.length === 0) {
        pick.replaceChildren(emptyState('No sessions to compare yet', 'Run two profiling sessions (before and after a change), then compare them here. To start one:', snippet(kubectlSnippet())));
        return;
      }
      renderPickers();
      render();
    },
    (err: unknown) => {
      if (destroyed) return;
      pick.replaceChildren(errorState(err, () => location.reload()));
    },
  );

  const onKey = (ev: KeyboardEvent): void => {
    if (ev.key === '/' && !isTyping(ev.target) && !ev.ctrlKey && !ev.metaKey) {
      ev.preventDefault();
      search.input.focus();
    } else if (ev.key === 'Escape' && (ev.target === search.input || !isTyping(ev.target))) {
      search.input.value = '';
      if (ev.target === search.input) search.input.blur();
      setParams(ev.target === search.input ? { q: undefined } : { zoom: undefined, q: undefined });
    }
  };
  document.addEventListener('keydown', onKey);

  return {
    update(r: Route) {
      params = r.params;
      if (sessions.length) render();
    },
    destroy() {
      destroyed = true;
      document.removeEventListener('keydown', onKey);
      flame.destroy();
    },
  };
};
