import { FlameChart, type Orientation } from '../flame/flame-chart.js';
import { ancestorsOf } from '../flame/layout.js';
import { resolveZoom, searchModel, zoomPath, type SearchResult, type ViewModel } from '../flame/tree-model.js';
import { h } from '../util/dom.js';
import { formatInt, formatShare } from '../util/format.js';

export interface FlameViewOptions {
  orientation: Orientation;
  /** The user clicked a bar: the page records the new zoom path in the URL (empty = reset). */
  onZoom: (path: string) => void;
  tooltip?: (node: number) => Node;
  ariaLabel?: string;
  /** Hide the root's bar (sandwich halves). */
  hideRoot?: boolean;
  /** Extra buttons for the breadcrumb row, given the zoomed node (e.g. "sandwich of this function"). */
  actions?: (node: number, model: ViewModel) => Node[];
}

/**
 * A flame chart with its breadcrumb and reset, driven by state (zoom path, search) that the page reads
 * from the URL. It reports clicks as zoom paths and never changes its own zoom: the URL is the one
 * source of truth, so Back, reload and a shared link all land on the same view.
 */
export class FlameView {
  readonly element: HTMLElement;
  private readonly crumbs: HTMLElement;
  private readonly chart: FlameChart;
  private model: ViewModel | undefined;
  private query = '';
  private path = '';
  private lastSearch: SearchResult | null = null;

  constructor(
    container: HTMLElement,
    private readonly options: FlameViewOptions,
  ) {
    this.crumbs = h('nav', { class: 'breadcrumb', 'aria-label': 'Zoom path' });
    this.element = h('div', { class: 'flame-view' }, this.crumbs);
    container.append(this.element);
    this.chart = new FlameChart(this.element, {
      orientation: options.orientation,
      ariaLabel: options.ariaLabel,
      hideRoot: options.hideRoot,
      tooltip: (node) => (options.tooltip ? options.tooltip(node) : document.createTextNode(this.model?.label(node) ?? '')),
      onClick: (node) => {
        const m = this.model;
        if (!m || node < 0) return;
        // Clicking the zoomed bar again (or the root) zooms back out one level / resets.
        const target = node === this.chart.zoomNode && node !== 0 ? m.layout.parents[node]! : node;
        this.options.onZoom(zoomPath(m.label, m.layout, target));
      },
    });
  }

  /** A new tree (after a fetch or a filter change). */
  setModel(model: ViewModel, state: { zoom?: string | null; query?: string | null } = {}): void {
    this.model = model;
    this.path = state.zoom ?? '';
    this.query = state.query ?? '';
    this.lastSearch = searchModel(model, this.query);
    this.chart.setModel({ layout: model.layout, palette: model.palette, colors: this.lastSearch?.colors ?? model.baseColors, tiny: model.tiny, label: model.label }, this.resolve());
    this.renderCrumbs();
  }

  /** Zoom and search from the URL; redraws only what changed. */
  setState(state: { zoom?: string | null; query?: string | null; orientation?: Orientation }): void {
    const m = this.model;
    if (state.orientation) this.chart.setOrientation(state.orientation);
    if (!m) return;
    // Only the keys given change: setState({orientation}) must not clear the search.
    const q = state.query === undefined ? this.query : (state.query ?? '');
    if (q !== this.query) {
      this.query = q;
      this.lastSearch = searchModel(m, q);
      this.chart.setColors(this.lastSearch?.colors ?? m.baseColors);
    }
    const p = state.zoom === undefined ? this.path : (state.zoom ?? '');
    if (p !== this.path) {
      this.path = p;
      this.chart.setZoom(this.resolve());
      this.renderCrumbs();
    }
  }

  get search(): SearchResult | null {
    return this.lastSearch;
  }

  get zoomNode(): number {
    return this.chart.zoomNode;
  }

  /** The pixel box of a node's bar, or undefined when not drawn (for tests and focus rings). */
  barOf(node: number): { x: number; y: number; w: number; h: number } | undefined {
    return this.chart.barOf(node);
  }

  destroy(): void {
    this.chart.destroy();
    this.element.remove();
  }

  private resolve(): number {
    const m = this.model!;
    return resolveZoom(m.label, m.layout, this.path);
  }

  private renderCrumbs(): void {
    const m = this.model;
    if (!m) return;
    const z = this.chart.zoomNode;
    const chain = [...ancestorsOf(m.layout, z), z];
    const items: Node[] = [];
    chain.forEach((node, i) => {
      if (i > 0) items.push(h('span', { class: 'crumb-sep', 'aria-hidden': 'true' }, '›'));
      const label = m.label(node);
      if (node === z) items.push(h('span', { class: 'crumb crumb-current', 'aria-current': 'location', title: label }, label));
      else
        items.push(
          h('a', { class: 'crumb', href: '#', title: label, onclick: (ev: Event) => (ev.preventDefault(), this.options.onZoom(zoomPath(m.label, m.layout, node))) }, label),
        );
    });
    const share = m.layout.value[0]! > 0 ? m.layout.value[z]! / m.layout.value[0]! : 0;
    const tail: Node[] = [];
    if (z !== 0) {
      tail.push(h('span', { class: 'crumb-share muted' }, `${formatShare(share)} of all`));
      tail.push(h('button', { type: 'button', class: 'btn btn-small reset-zoom', onclick: () => this.options.onZoom(''), title: 'Reset zoom (Esc)' }, 'Reset zoom'));
    } else {
      tail.push(h('span', { class: 'crumb-share muted' }, `${formatInt(m.layout.size - 1)} frame${m.layout.size === 2 ? '' : 's'} · click a bar to zoom`));
    }
    if (this.options.actions) tail.push(...this.options.actions(z, m));
    this.crumbs.replaceChildren(h('div', { class: 'crumbs' }, ...items), h('div', { class: 'crumb-tail' }, ...tail));
  }
}
