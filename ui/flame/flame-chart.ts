import { ancestorsOf, type FlameLayout } from './layout.js';
import type { PaletteEntry } from './palette.js';

/** What a chart draws: geometry, a palette and one palette index per node, and labels. */
export interface FlameModel {
  layout: FlameLayout;
  palette: readonly PaletteEntry[];
  colors: Uint16Array;
  label(node: number): string;
}

export type Orientation = 'flame' | 'icicle';

export interface FlameChartOptions {
  orientation: Orientation;
  rowHeight?: number;
  /** Bars narrower than this many CSS pixels are not drawn (nor their subtrees). */
  minWidth?: number;
  /** A click on a bar (node), or on the background (-1). */
  onClick?: (node: number, ev: MouseEvent) => void;
  /** The tooltip's content for a node. */
  tooltip?: (node: number) => Node;
  /** An accessible name for the chart. */
  ariaLabel?: string;
  /** Leave the root's bar out (sandwich halves, where the root would only repeat the function). */
  hideRoot?: boolean;
}

const FONT_SIZE = 11;
const FONT = `${FONT_SIZE}px ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace`;
const PAD = 4;
/** The page cannot hold a taller canvas in every browser; deeper rows are cut (and said so). */
const MAX_CANVAS_PX = 30000;

/**
 * A flame graph or icicle drawn on a <canvas>, with DOM only for what needs it (hover outline, tooltip,
 * an accessible list of the labelled bars). Draws only bars at least `minWidth` wide and skips whole
 * subtrees below that, so the cost follows what is visible, not the size of the tree.
 *
 * The chart owns no state beyond what it draws: the page decides zoom and colours (from the URL) and
 * calls `setModel`, `setColors`, `setZoom`; clicks are reported through `onClick`.
 */
export class FlameChart {
  readonly element: HTMLDivElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly hover: HTMLDivElement;
  private readonly tip: HTMLDivElement;
  private readonly a11y: HTMLUListElement;
  private readonly note: HTMLDivElement;
  private readonly ctx: CanvasRenderingContext2D;
  private readonly rowH: number;
  private readonly minW: number;
  /** 1 when the root is hidden: depth d is drawn on row d - 1. */
  private readonly off: number;
  private model: FlameModel | undefined;
  private zoom = 0;
  private orientation: Orientation;
  private width = 0;
  private rows = 0;
  private charW = 7;
  private patterns = new Map<string, CanvasPattern | string>();
  private pendingDraw = 0;
  private hoverNode = -1;
  private readonly resize: ResizeObserver;
  // Visible bars of the last draw, for the accessible list and for tests.
  private visN = 0;
  private visNode = new Int32Array(1024);
  private visX = new Float32Array(1024);
  private visW = new Float32Array(1024);

  constructor(
    container: HTMLElement,
    private readonly options: FlameChartOptions,
  ) {
    this.orientation = options.orientation;
    this.rowH = options.rowHeight ?? 18;
    this.minW = options.minWidth ?? 0.6;
    this.off = options.hideRoot ? 1 : 0;
    this.element = document.createElement('div');
    this.element.className = 'flame';
    this.canvas = document.createElement('canvas');
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', options.ariaLabel ?? 'Flame graph');
    this.hover = document.createElement('div');
    this.hover.className = 'flame-hover';
    this.tip = document.createElement('div');
    this.tip.className = 'flame-tip';
    this.tip.setAttribute('role', 'tooltip');
    this.note = document.createElement('div');
    this.note.className = 'flame-note';
    this.a11y = document.createElement('ul');
    this.a11y.className = 'sr-only flame-bars';
    this.element.append(this.canvas, this.hover, this.tip, this.note, this.a11y);
    container.append(this.element);
    const ctx = this.canvas.getContext('2d', { alpha: false });
    if (!ctx) throw new Error('this browser cannot draw on a canvas');
    this.ctx = ctx;
    ctx.font = FONT;
    this.charW = ctx.measureText('M').width || 7;

    this.canvas.addEventListener('mousemove', (ev) => this.onMove(ev));
    this.canvas.addEventListener('mouseleave', () => this.setHover(-1));
    this.canvas.addEventListener('click', (ev) => {
      const node = this.hit(ev.offsetX, ev.offsetY);
      this.options.onClick?.(node, ev);
    });
    this.resize = new ResizeObserver(() => {
      const w = Math.floor(this.element.clientWidth);
      if (w > 0 && w !== this.width) this.schedule();
    });
    this.resize.observe(this.element);
  }

  setModel(model: FlameModel, zoom = 0): void {
    this.model = model;
    this.zoom = this.validZoom(zoom);
    this.setHover(-1);
    this.draw();
  }

  setColors(colors: Uint16Array): void {
    if (!this.model) return;
    this.model = { ...this.model, colors };
    this.draw();
  }

  setZoom(node: number): void {
    const z = this.validZoom(node);
    if (z === this.zoom) return;
    this.zoom = z;
    this.setHover(-1);
    this.draw();
  }

  get zoomNode(): number {
    return this.zoom;
  }

  setOrientation(o: Orientation): void {
    if (o === this.orientation) return;
    this.orientation = o;
    this.draw();
  }

  destroy(): void {
    this.resize.disconnect();
    cancelAnimationFrame(this.pendingDraw);
    this.element.remove();
  }

  /** The node under a point in CSS pixels of the canvas, or -1. */
  hit(x: number, y: number): number {
    const m = this.model;
    if (!m || this.rows === 0) return -1;
    const row = Math.floor(y / this.rowH);
    const d = (this.orientation === 'icicle' ? row : this.rows - 1 - row) + this.off;
    if (d < this.off || d >= this.rows + this.off) return -1;
    const L = m.layout;
    const z = this.zoom;
    const zd = L.depth[z]!;
    if (d < zd) return ancestorsOf(L, z)[d] ?? -1;
    const k = this.width / (L.value[z]! || 1);
    const ox = L.x0[z]!;
    let cur = z;
    for (let level = zd; level < d; level++) {
      let next = -1;
      for (let c = L.kidStart[cur]!; c < L.kidStart[cur + 1]!; c++) {
        const kid = L.kids[c]!;
        const x0 = (L.x0[kid]! - ox) * k;
        const w = L.value[kid]! * k;
        if (w < this.minW) break; // heaviest first: the rest are narrower still
        if (x >= x0 && x < x0 + w) {
          next = kid;
          break;
        }
      }
      if (next < 0) return -1;
      cur = next;
    }
    return cur;
  }

  /** The bar of a node as drawn (CSS pixels), or undefined when it is not visible. */
  barOf(node: number): { x: number; y: number; w: number; h: number } | undefined {
    for (let i = 0; i < this.visN; i++) {
      if (this.visNode[i] === node) return { x: this.visX[i]!, y: this.rowY(this.model!.layout.depth[node]!), w: this.visW[i]!, h: this.rowH };
    }
    return undefined;
  }

  /** Draws on the next animation frame (coalescing several requests into one draw). */
  schedule(): void {
    if (this.pendingDraw) return;
    this.pendingDraw = requestAnimationFrame(() => {
      this.pendingDraw = 0;
      this.draw();
    });
  }

  /** Draws now. */
  draw(): void {
    cancelAnimationFrame(this.pendingDraw);
    this.pendingDraw = 0;
    const m = this.model;
    if (!m) return;
    const t0 = performance.now();
    const L = m.layout;
    const W = Math.max(1, Math.floor(this.element.clientWidth));
    this.width = W;
    this.collect(L, W);

    const maxRows = Math.floor(MAX_CANVAS_PX / this.rowH);
    let deepest = 0;
    for (let i = 0; i < this.visN; i++) deepest = Math.max(deepest, L.depth[this.visNode[i]!]!);
    this.rows = Math.max(0, Math.min(deepest + 1 - this.off, maxRows));
    this.note.textContent = deepest + 1 - this.off > maxRows ? `Only the first ${maxRows} levels are drawn: zoom in to see deeper frames.` : '';

    const dpr = window.devicePixelRatio || 1;
    const H = this.rows * this.rowH;
    this.canvas.style.width = `${W}px`;
    this.canvas.style.height = `${H}px`;
    this.canvas.width = Math.round(W * dpr);
    this.canvas.height = Math.round(H * dpr);
    const ctx = this.ctx;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, W, H);
    this.paintBars(m, ctx);
    this.paintLabels(m, ctx);
    this.updateA11y(m);
    const ms = performance.now() - t0;
    this.element.dispatchEvent(new CustomEvent('flame:drawn', { detail: { ms, bars: this.visN }, bubbles: true }));
  }

  private validZoom(node: number): number {
    const L = this.model?.layout;
    if (!L || node < 0 || node >= L.size || !(L.value[node]! > 0)) return 0;
    return node;
  }

  private rowY(depth: number): number {
    const d = depth - this.off;
    return this.orientation === 'icicle' ? d * this.rowH : (this.rows - 1 - d) * this.rowH;
  }

  /** Finds the bars to draw: the zoomed node's ancestors at full width, then its visible subtree. */
  private collect(L: FlameLayout, W: number): void {
    this.visN = 0;
    const z = this.zoom;
    for (const a of ancestorsOf(L, z)) if (a >= this.off) this.push(a, 0, W);
    const k = W / (L.value[z]! || 1);
    const ox = L.x0[z]!;
    const minW = this.minW;
    const { order, end, value, x0 } = L;
    let p = L.pos[z]!;
    const e = end[p]!;
    while (p < e) {
      const node = order[p]!;
      const w = value[node]! * k;
      if (w < minW) {
        p = end[p]!;
        continue;
      }
      if (node >= this.off) this.push(node, (x0[node]! - ox) * k, w);
      p++;
    }
  }

  private push(node: number, x: number, w: number): void {
    if (this.visN === this.visNode.length) {
      const grow = <T extends Int32Array | Float32Array>(a: T, make: (n: number) => T): T => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      this.visNode = grow(this.visNode, (n) => new Int32Array(n));
      this.visX = grow(this.visX, (n) => new Float32Array(n));
      this.visW = grow(this.visW, (n) => new Float32Array(n));
    }
    this.visNode[this.visN] = node;
    this.visX[this.visN] = x;
    this.visW[this.visN] = w;
    this.visN++;
  }

  private paintBars(m: FlameModel, ctx: CanvasRenderingContext2D): void {
    // Counting sort of the visible bars by colour: one path and one fill per colour.
    const P = m.palette.length;
    const counts = new Int32Array(P + 1);
    for (let i = 0; i < this.visN; i++) counts[m.colors[this.visNode[i]!]! + 1]!++;
    for (let c = 0; c < P; c++) counts[c + 1]! += counts[c]!;
    const byColor = new Int32Array(this.visN);
    const fill = counts.slice(0, P);
    for (let i = 0; i < this.visN; i++) byColor[fill[m.colors[this.visNode[i]!]!]!++] = i;
    const depth = m.layout.depth;
    const h = this.rowH - 1;
    for (let c = 0; c < P; c++) {
      const a = counts[c]!;
      const b = counts[c + 1]!;
      if (a === b) continue;
      const entry = m.palette[c]!;
      ctx.globalAlpha = entry.alpha ?? 1;
      ctx.fillStyle = this.paint(entry.fill);
      ctx.beginPath();
      for (let j = a; j < b; j++) {
        const i = byColor[j]!;
        const w = this.visW[i]!;
        // a 1px gap separates neighbours once bars are wide enough to afford it
        ctx.rect(this.visX[i]!, this.rowY(depth[this.visNode[i]!]!), w > 3 ? w - 1 : w, h);
      }
      ctx.fill();
    }
    ctx.globalAlpha = 1;
  }

  private paintLabels(m: FlameModel, ctx: CanvasRenderingContext2D): void {
    const minLabel = this.charW * 3 + 2 * PAD;
    const depth = m.layout.depth;
    let italic = false;
    ctx.font = FONT;
    ctx.textBaseline = 'middle';
    for (let i = 0; i < this.visN; i++) {
      const w = this.visW[i]!;
      if (w < minLabel) continue;
      const node = this.visNode[i]!;
      const entry = m.palette[m.colors[node]!]!;
      const text = fitLabel(m.label(node), Math.floor((w - 2 * PAD) / this.charW));
      if (!text) continue;
      const wantItalic = entry.italic === true;
      if (wantItalic !== italic) {
        ctx.font = wantItalic ? `italic ${FONT}` : FONT;
        italic = wantItalic;
      }
      ctx.globalAlpha = entry.alpha === undefined ? 1 : Math.min(1, entry.alpha * 2);
      ctx.fillStyle = entry.text;
      ctx.fillText(text, this.visX[i]! + PAD, this.rowY(depth[node]!) + (this.rowH - 1) / 2 + 0.5);
    }
    ctx.globalAlpha = 1;
  }

  /** The accessible (and testable) list of labelled bars: what a sighted reader can read. */
  private updateA11y(m: FlameModel): void {
    const minLabel = this.charW * 3 + 2 * PAD;
    const items: HTMLLIElement[] = [];
    const depth = m.layout.depth;
    for (let i = 0; i < this.visN && items.length < 300; i++) {
      const w = this.visW[i]!;
      if (w < minLabel) continue;
      const node = this.visNode[i]!;
      const li = document.createElement('li');
      li.textContent = m.label(node);
      li.dataset['node'] = String(node);
      li.dataset['x'] = this.visX[i]!.toFixed(1);
      li.dataset['y'] = String(this.rowY(depth[node]!));
      li.dataset['w'] = w.toFixed(1);
      li.dataset['color'] = String(m.colors[node]);
      li.dataset['text'] = fitLabel(m.label(node), Math.floor((w - 2 * PAD) / this.charW));
      li.dataset['charW'] = this.charW.toFixed(2);
      items.push(li);
    }
    this.a11y.replaceChildren(...items);
  }

  private paint(fill: string): string | CanvasPattern {
    if (fill !== 'hatch') return fill;
    let p = this.patterns.get(fill);
    if (!p) {
      const dpr = window.devicePixelRatio || 1;
      const s = Math.round(6 * dpr);
      const c = document.createElement('canvas');
      c.width = s;
      c.height = s;
      const g = c.getContext('2d')!;
      g.fillStyle = '#eceef1';
      g.fillRect(0, 0, s, s);
      g.strokeStyle = '#c9ced6';
      g.lineWidth = 1.4 * dpr;
      g.beginPath();
      g.moveTo(-1, s + 1);
      g.lineTo(s + 1, -1);
      g.stroke();
      const pattern = this.ctx.createPattern(c, 'repeat');
      p = pattern ?? '#e5e7eb';
      if (pattern && dpr !== 1) pattern.setTransform(new DOMMatrix().scale(1 / dpr));
      this.patterns.set(fill, p);
    }
    return p;
  }

  private onMove(ev: MouseEvent): void {
    const node = this.hit(ev.offsetX, ev.offsetY);
    this.setHover(node);
    if (node >= 0) this.placeTip(ev.offsetX, ev.offsetY);
  }

  private setHover(node: number): void {
    const m = this.model;
    if (node === this.hoverNode) return;
    this.hoverNode = node;
    if (node < 0 || !m) {
      this.hover.style.display = 'none';
      this.tip.style.display = 'none';
      this.canvas.style.cursor = '';
      return;
    }
    const L = m.layout;
    const z = this.zoom;
    const k = this.width / (L.value[z]! || 1);
    const isAncestor = L.depth[node]! < L.depth[z]!;
    const x = isAncestor ? 0 : (L.x0[node]! - L.x0[z]!) * k;
    const w = isAncestor ? this.width : L.value[node]! * k;
    Object.assign(this.hover.style, {
      display: 'block',
      left: `${x}px`,
      top: `${this.rowY(L.depth[node]!)}px`,
      width: `${Math.max(1, w - 1)}px`,
      height: `${this.rowH - 1}px`,
    });
    this.canvas.style.cursor = 'pointer';
    this.tip.replaceChildren(this.options.tooltip ? this.options.tooltip(node) : document.createTextNode(m.label(node)));
    this.tip.style.display = 'block';
  }

  private placeTip(x: number, y: number): void {
    // Keep the tooltip inside the chart: flip left of the cursor near the right edge, above it near the bottom.
    const tw = this.tip.offsetWidth;
    const th = this.tip.offsetHeight;
    const W = this.width;
    const H = this.rows * this.rowH;
    let left = x + 14;
    if (left + tw > W) left = Math.max(0, x - tw - 14);
    let top = y + 16;
    if (top + th > H && y - th - 8 >= 0) top = y - th - 8;
    this.tip.style.left = `${left}px`;
    this.tip.style.top = `${top}px`;
  }
}

/** Cuts a label to `maxChars` with an ellipsis; too little room for 3 characters means no label at all. */
export function fitLabel(label: string, maxChars: number): string {
  if (maxChars < 3) return '';
  if (label.length <= maxChars) return label;
  return `${label.slice(0, maxChars - 1)}…`;
}
