import { displayPath, displayWhere } from '../../src/model/source-path.js';
import { SYNTHETIC } from '../../src/model/frame.js';
import type { TreeModel } from '../flame/tree-model.js';
import { h } from '../util/dom.js';
import { formatInt, formatShare, formatUs } from '../util/format.js';

/** What the synthetic frames mean, said once where people meet them. */
const EXPLAIN: Record<string, string> = {
  [SYNTHETIC.waiting.name]: 'The request was waiting for I/O or a timer: off the CPU, not blocking the thread.',
  [SYNTHETIC.otherWork.name]: 'The request was ready to run, but other work held the thread (another request, a long callback).',
  [SYNTHETIC.pruned.name]: 'Many small subtrees folded into one bar to keep the tree light; their time is all here.',
  [SYNTHETIC.idle.name]: 'The thread had nothing to run.',
  [SYNTHETIC.gc.name]: 'Garbage collection paused the thread.',
  [SYNTHETIC.program.name]: 'Work in the runtime that V8 does not attribute to a JavaScript function.',
};

/**
 * Tooltip of an ordinary tree's bar: total and self time, their shares, samples, per request, CPU.
 * `callersOf` names the function of a sandwich's callers half, where a bar's weight is that
 * function's time under the chain of callers, and "self" means nothing.
 */
export function treeTooltip(m: TreeModel, callersOf?: string): (node: number) => Node {
  const t = m.tree;
  const rootWall = t.total.wallUs[0]!;
  const rootSamples = t.total.samples[0]!;
  const req = m.requests > 0 ? m.requests : 0;
  return (node) => {
    const f = t.frame(node);
    const wall = t.total.wallUs[node]!;
    const selfWall = t.self.wallUs[node]!;
    const samples = t.total.samples[node]!;
    const selfSamples = t.self.samples[node]!;
    const cpu = t.total.cpuUs[node]!;
    const byTime = m.metric === 'wallUs';
    const rows: [string, string][] = byTime
      ? [
          ['Total', `${formatUs(wall)} · ${formatShare(rootWall ? wall / rootWall : 0)}`],
          ['Self', `${formatUs(selfWall)} · ${formatShare(rootWall ? selfWall / rootWall : 0)}`],
          ['Samples', `${formatInt(samples)} (self ${formatInt(selfSamples)})`],
        ]
      : [
          ['Samples', `${formatInt(samples)} · ${formatShare(rootSamples ? samples / rootSamples : 0)}`],
          ['Self samples', `${formatInt(selfSamples)} · ${formatShare(rootSamples ? selfSamples / rootSamples : 0)}`],
        ];
    if (req && byTime) rows.push(['Per request', `${formatUs(wall / req)} total · ${formatUs(selfWall / req)} self`]);
    if (cpu > 0) rows.push(['CPU', formatUs(cpu)]);
    if (callersOf !== undefined) {
      rows.length = 0;
      rows.push([`In ${callersOf}`, byTime ? `${formatUs(wall)} · ${formatShare(rootWall ? wall / rootWall : 0)} of its time` : `${formatInt(samples)} samples`]);
      if (req && byTime) rows.push(['Per request', formatUs(wall / req)]);
    }
    // One bar is one function; the lines it merges are the detail a user asks for here.
    const lines = node === 0 ? [] : m.lines(node);
    const lineValue = (w: { samples: number; wallUs: number }): string =>
      byTime ? `${formatUs(w.wallUs)} · ${formatShare(wall ? w.wallUs / wall : 0)}` : `${formatInt(w.samples)} · ${formatShare(samples ? w.samples / samples : 0)}`;
    const name = node === 0 ? m.rootLabel : (f?.name ?? '');
    // The same path as the bar's label (source-path.ts), not the runtime's absolute one.
    const where = f ? displayWhere(f.file, f.line, m.roots) : '';
    return h(
      'div',
      {},
      h('div', { class: 'tip-name' }, name),
      where ? h('div', { class: 'tip-where' }, where) : null,
      f?.mappedFrom ? h('div', { class: 'tip-mapped' }, `via source map, compiled: ${displayPath(f.mappedFrom, m.roots)}`) : null,
      // The agent said where this function begins (Sonde 0.4): say so, since the bar's line is that start.
      f?.functionLine ? h('div', { class: 'tip-function' }, `function at line ${f.functionLine}`) : null,
      h('dl', { class: 'tip-rows' }, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
      lines.length
        ? h(
            'div',
            { class: 'tip-lines' },
            h('div', { class: 'tip-lines-head' }, `Lines (${lines.length}), share of this bar`),
            h('dl', { class: 'tip-rows' }, ...lines.flatMap((l) => [h('dt', { class: 'mono' }, `line ${l.line || '?'}`), h('dd', {}, lineValue(l.total))])),
          )
        : null,
      f && EXPLAIN[f.name] ? h('p', { class: 'tip-explain' }, EXPLAIN[f.name]!) : null,
      node === 0 && req ? h('p', { class: 'tip-explain' }, `${formatInt(req)} request${req === 1 ? '' : 's'} merged.`) : null,
      h('div', { class: 'tip-hint' }, 'Click to zoom'),
    );
  };
}
