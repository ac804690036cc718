import { h } from '../util/dom.js';

/** A legend row: swatches with labels (and a longer explanation on hover). */
export function legend(items: readonly { label: string; fill: string; title?: string }[], caption?: string): HTMLElement {
  return h(
    'div',
    { class: 'legend', role: 'list', 'aria-label': caption ?? 'Legend' },
    caption ? h('span', { class: 'legend-caption' }, caption) : null,
    ...items.map((it) =>
      h(
        'span',
        { class: 'legend-item', role: 'listitem', title: it.title },
        h('span', { class: `swatch${it.fill === 'hatch' ? ' swatch-hatch' : ''}`, style: it.fill === 'hatch' ? undefined : `background:${it.fill}` }),
        it.label,
      ),
    ),
  );
}

/** The legend of a differential graph: a gradient from "less" (blue) through "same" to "more" (red). */
export function diffLegend(colors: readonly string[], less: string, more: string, widthIs = 'the new tree'): HTMLElement {
  const gradient = `linear-gradient(to right, ${colors.join(', ')})`;
  return h(
    'div',
    { class: 'legend legend-diff', role: 'img', 'aria-label': `Colour scale: blue means ${less}, red means ${more}` },
    h('span', { class: 'legend-end' }, less),
    h('span', { class: 'legend-gradient', style: `background:${gradient}` }),
    h('span', { class: 'legend-end' }, more),
    h('span', { class: 'legend-note muted' }, `Width: share of time in ${widthIs}. Colour: how that share changed.`),
  );
}
