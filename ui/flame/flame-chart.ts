import { ancestorsOf, type FlameLayout } from './layout.js';
import type { PaletteEntry } from './palette.js';

/** What a chart draws: geometry, a palette and one palette index per node, and labels. */
export interface FlameModel {
  layout: FlameLayout;
  palette: readonly PaletteEntry[];
  colors: Uint16Array;
  /** Palette index → stand-in for sub-pixel bars, so thin neighbours merge into one rectangle. */
  tiny?: Uint16Array | undefined;
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
/** Bars thinner than this (CSS px) are drawn without a gap and merge with same-coloured neighbours. */
const TINY = 2;
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
  private solidCache = new Map<string, number>();
  private pendingDraw = 0;
  private hoverNode = -1;
  private readonly resize: ResizeObserver;
  // Visible bars of the last draw, for the accessible list and for tests.
  // A merged run of thin bars has node -1: it has no single label and is never a hit target.
  private visN = 0;
  private visNode = new Int32Array(1024);
  private visX = new Float32Array(1024);
  private visW = new Float32Array(1024);
  private visDepth = new Int32Array(1024);
  private visColor = new Uint16Array(1024);

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
    // An opaque canvas shows black until drawn, and a canvas defaults to 300×150: take no room at all
    // until a model is drawn (a page that never gets one, an error say, then shows nothing).
    this.canvas.width = 0;
    this.canvas.height = 0;
    this.canvas.style.width = '0px';
    this.canvas.style.height = '0px';

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
      if (this.visNode[i] === node) return { x: this.visX[i]!, y: this.rowY(this.visDepth[i]!), w: this.visW[i]!, h: this.rowH };
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
    for (let i = 0; i < this.visN; i++) deepest = Math.max(deepest, this.visDepth[i]!);
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
    this.paintBars(m, ctx, dpr);
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

  /**
   * Finds the bars to draw: the zoomed node's ancestors at full width, then its visible subtree.
   * Thin bars that touch a same-coloured thin bar on their row merge into one run.
   */
  private collect(L: FlameLayout, W: number): void {
    this.visN = 0;
    const m = this.model!;
    const colors = m.colors;
    const tiny = m.tiny;
    const z = this.zoom;
    for (const a of ancestorsOf(L, z)) if (a >= this.off) this.push(a, 0, W, L.depth[a]!, colors[a]!);
    const k = W / (L.value[z]! || 1);
    const ox = L.x0[z]!;
    const minW = this.minW;
    const { order, end, value, x0, depth } = L;
    const rows = L.maxDepth + 1;
    const runStart = new Float64Array(rows);
    const runEnd = new Float64Array(rows).fill(-1);
    const runColor = new Uint16Array(rows);
    const runNode = new Int32Array(rows);
    const runCount = new Int32Array(rows);
    const flush = (d: number): void => {
      if (runCount[d]! > 0) this.push(runCount[d] === 1 ? runNode[d]! : -1, runStart[d]!, runEnd[d]! - runStart[d]!, d, runColor[d]!);
      runCount[d] = 0;
      runEnd[d] = -1;
    };
    let p = L.pos[z]!;
    const e = end[p]!;
    while (p < e) {
      const node = order[p]!;
      const w = value[node]! * k;
      if (w < minW) {
        p = end[p]!;
        continue;
      }
      p++;
      if (node < this.off) continue;
      const x = (x0[node]! - ox) * k;
      const d = depth[node]!;
      if (w >= TINY) {
        this.push(node, x, w, d, colors[node]!);
        continue;
      }
      const c = tiny ? tiny[colors[node]!]! : colors[node]!;
      if (runCount[d]! > 0 && runColor[d] === c && Math.abs(runEnd[d]! - x) < 0.01) {
        runEnd[d] = x + w;
        runCount[d]!++;
      } else {
        flush(d);
        runStart[d] = x;
        runEnd[d] = x + w;
        runColor[d] = c;
        runNode[d] = node;
        runCount[d] = 1;
      }
    }
    for (let d = 0; d < rows; d++) flush(d);
  }

  private push(node: number, x: number, w: number, depth: number, color: number): void {
    if (this.visN === this.visNode.length) {
      const grow = <T extends Int32Array | Float32Array>(a: T, make: (n: number) => T): T => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      this.visNode = grow(this.visNode, (n) => new Int32Array(n));
      this.visX = grow(this.visX, (n) => new Float32Array(n));
      this.visW = grow(this.visW, (n) => new Float32Array(n));
      this.visDepth = grow(this.visDepth, (n) => new Int32Array(n));
      const colors = new Uint16Array(this.visColor.length * 2);
      colors.set(this.visColor);
      this.visColor = colors;
    }
    this.visNode[this.visN] = node;
    this.visX[this.visN] = x;
    this.visW[this.visN] = w;
    this.visDepth[this.visN] = depth;
    this.visColor[this.visN] = color;
    this.visN++;
  }

  private paintBars(m: FlameModel, ctx: CanvasRenderingContext2D, dpr: number): void {
    // Many thin bars (every node of a huge tree visible): write them as pixels, then draw the rest.
    const thin = this.thinCount();
    const pixels = thin > 4000 && this.canvas.width * this.canvas.height <= 6_000_000;
    if (pixels) this.paintThinPixels(m, ctx, dpr);
    // Counting sort of the visible bars by colour: one path and one fill per colour.
    const P = m.palette.length;
    const counts = new Int32Array(P + 1);
    for (let i = 0; i < this.visN; i++) counts[this.visColor[i]! + 1]!++;
    for (let c = 0; c < P; c++) counts[c + 1]! += counts[c]!;
    const byColor = new Int32Array(this.visN);
    const fill = counts.slice(0, P);
    for (let i = 0; i < this.visN; i++) byColor[fill[this.visColor[i]!]!++] = i;
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
        if (pixels && w < TINY) continue;
        // a 1px gap separates neighbours once bars are wide enough to afford it
        ctx.rect(this.visX[i]!, this.rowY(this.visDepth[i]!), w > 3 ? w - 1 : w, h);
      }
      ctx.fill();
    }
    ctx.globalAlpha = 1;
  }

  private thinCount(): number {
    let n = 0;
    for (let i = 0; i < this.visN; i++) if (this.visW[i]! < TINY) n++;
    return n;
  }

  /**
   * Thin bars straight into an ImageData: a hundred thousand sub-pixel rectangles cost the canvas
   * far more than writing their few pixels, and they are too thin to need anti-aliasing.
   * putImageData replaces pixels, so it runs first, on the white background, before any path.
   */
  private paintThinPixels(m: FlameModel, ctx: CanvasRenderingContext2D, dpr: number): void {
    const cw = this.canvas.width;
    const ch = this.canvas.height;
    const image = ctx.createImageData(cw, ch);
    const px = new Uint32Array(image.data.buffer);
    px.fill(0xffffffff);
    const rgba = m.palette.map((e) => this.solid(e));
    const rowPx = Math.max(1, Math.round((this.rowH - 1) * dpr));
    // One scanline per row of the chart; a row's bars fill its whole height, so each scanline is
    // written once and then copied down the row.
    const scan = new Uint32Array(this.rows * cw).fill(0xffffffff);
    const used = new Uint8Array(this.rows);
    for (let i = 0; i < this.visN; i++) {
      const w = this.visW[i]!;
      if (w >= TINY) continue;
      const row = Math.round(this.rowY(this.visDepth[i]!) / this.rowH);
      if (row < 0 || row >= this.rows) continue;
      const x0 = Math.max(0, Math.floor(this.visX[i]! * dpr));
      const x1 = Math.min(cw, Math.max(x0 + 1, Math.round((this.visX[i]! + w) * dpr)));
      const color = rgba[this.visColor[i]!]!;
      const base = row * cw;
      for (let x = x0; x < x1; x++) scan[base + x] = color;
      used[row] = 1;
    }
    for (let row = 0; row < this.rows; row++) {
      if (!used[row]) continue;
      const line = scan.subarray(row * cw, (row + 1) * cw);
      const y0 = Math.round(row * this.rowH * dpr);
      for (let y = y0, yEnd = Math.min(ch, y0 + rowPx); y < yEnd; y++) px.set(line, y * cw);
    }
    ctx.putImageData(image, 0, 0);
  }

  /** A palette entry as one opaque pixel (alpha blended over white; the hatch as its light grey). */
  private solid(e: PaletteEntry): number {
    const key = `${e.fill}|${e.alpha ?? 1}`;
    let v = this.solidCache.get(key);
    if (v === undefined) {
      const probe = document.createElement('canvas').getContext('2d', { willReadFrequently: true })!;
      probe.fillStyle = '#ffffff';
      probe.fillRect(0, 0, 1, 1);
      probe.globalAlpha = e.alpha ?? 1;
      probe.fillStyle = e.fill === 'hatch' ? '#dfe2e7' : e.fill;
      probe.fillRect(0, 0, 1, 1);
      const [r, g, b] = probe.getImageData(0, 0, 1, 1).data;
      v = ((255 << 24) | (b! << 16) | (g! << 8) | r!) >>> 0;
      this.solidCache.set(key, v);
    }
    return v;
  }

  private paintLabels(m: FlameModel, ctx: CanvasRenderingContext2D): void {
    const minLabel = this.charW * 3 + 2 * PAD;
    const depth = m.layout.depth;
    let italic = false;
    ctx.font = FONT;
    ctx.textBaseline = 'middle';
    for (let i = 0; i < this.visN; i++) {
      const w = this.visW[i]!;
      const node = this.visNode[i]!;
      if (w < minLabel || node < 0) continue;
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
      const node = this.visNode[i]!;
      if (w < minLabel || node < 0) continue;
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
