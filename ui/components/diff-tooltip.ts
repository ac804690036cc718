import { displayPath, displayWhere } from '../../src/model/source-path.js';
import type { DiffModel } from '../flame/diff-model.js';
import { h } from '../util/dom.js';
import { formatShare, formatUs } from '../util/format.js';

/** Tooltip of a differential bar: each side's share and time per request, and the change. */
export function diffTooltip(m: DiffModel): (node: number) => Node {
  const { diff, names, requests } = m;
  const byTime = diff.weight === 'wallUs';
  const perReq = (share: number, side: 'base' | 'next'): string => {
    const s = side === 'base' ? diff.baseline : diff.comparison;
    const n = requests[side];
    if (!byTime || n <= 0) return '';
    return ` · ${formatUs((share * s.rootTotal) / n)} per request`;
  };
  return (node) => {
    const f = diff.tree.frame(node);
    const a = diff.baseline.total[node]!;
    const b = diff.comparison.total[node]!;
    const delta = diff.delta.total[node]!;
    const pts = (delta * 100).toFixed(1);
    const change =
      Math.abs(delta) < 0.0005
        ? h('span', {}, 'about the same share')
        : h('span', { class: delta > 0 ? 'tip-more' : 'tip-less' }, `${delta > 0 ? '+' : ''}${pts} points (${delta > 0 ? `more in ${names.next}` : `less in ${names.next}`})`);
    // The same path as the bar's label (source-path.ts), not the runtime's absolute one.
    const where = f ? displayWhere(f.file, f.line, m.roots) : '';
    return h(
      'div',
      {},
      h('div', { class: 'tip-name' }, node === 0 ? m.label(0) : (f?.name ?? '')),
      where ? h('div', { class: 'tip-where' }, where) : null,
      f?.mappedFrom ? h('div', { class: 'tip-mapped' }, `via source map, compiled: ${displayPath(f.mappedFrom, m.roots)}`) : null,
      h(
        'dl',
        { class: 'tip-rows' },
        h('dt', {}, names.next),
        h('dd', {}, `${formatShare(b)} of time${perReq(b, 'next')}`),
        h('dt', {}, names.base),
        h('dd', {}, `${formatShare(a)} of time${perReq(a, 'base')}`),
        h('dt', {}, 'Change'),
        h('dd', {}, change),
      ),
      b === 0 ? h('p', { class: 'tip-explain' }, `Only in ${names.base}.`) : a === 0 ? h('p', { class: 'tip-explain' }, `Only in ${names.next}.`) : null,
      h('div', { class: 'tip-hint' }, 'Click to zoom'),
    );
  };
}
