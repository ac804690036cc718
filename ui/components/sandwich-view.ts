import type { LineWeight } from '../../src/model/by-function.js';
import type { CallTree } from '../../src/model/call-tree.js';
import { displayWhere } from '../../src/model/source-path.js';
import { sandwich } from '../../src/model/sandwich.js';
import { makeTreeModel } from '../flame/tree-model.js';
import { h } from '../util/dom.js';
import { formatInt, formatShare, formatUs } from '../util/format.js';
import { FlameView } from './flame-view.js';
import { treeTooltip } from './tree-tooltip.js';

/**
 * The sandwich of one function: its callers above it (inverted: the function at the bottom, who
 * called it on top), its callees below (everything it calls, merged from every call site). Each half
 * zooms on its own; which function is in the URL (`fn`).
 */
export class SandwichView {
  readonly element: HTMLElement;
  private views: FlameView[] = [];

  constructor(container: HTMLElement) {
    this.element = h('div', { class: 'sandwich' });
    container.append(this.element);
  }

  /**
   * Shows the sandwich of the frame with this label in `tree`; false when the tree has no such frame.
   * `frameLines` lists the source lines a function merges (by-function.ts): its line view. `roots`: the
   * application roots files are shown relative to (source-path.ts), as the labels were made.
   */
  show(tree: CallTree, requests: number, label: string, labels: readonly string[], onClose: () => void, frameLines: (frame: number) => readonly LineWeight[] = () => [], roots: readonly string[] = []): boolean {
    this.clear();
    const frame = labels.indexOf(label);
    if (frame < 0) {
      this.element.append(h('p', { class: 'muted' }, `This tree has no function "${label}" (a filter may have removed it).`), h('button', { type: 'button', class: 'btn btn-small', onclick: onClose }, 'Close'));
      return false;
    }
    const s = sandwich(tree, frame);
    const total = s.callees.total.wallUs[0]! || s.callees.total.samples[0]!;
    const rootTotal = tree.total.wallUs[0]! || tree.total.samples[0]!;
    const f = tree.frames[frame]!;
    this.element.append(
      h(
        'div',
        { class: 'panel-head' },
        h('h2', {}, 'Sandwich: ', h('span', { class: 'mono' }, label)),
        f.functionLine ? h('span', { class: 'muted small sandwich-function' }, `function at line ${f.functionLine}`) : null,
        h('span', { class: 'muted small' }, `${formatShare(total / (rootTotal || 1))} of all time${tree.total.wallUs[0]! > 0 && requests > 0 ? ` · ${formatUs(s.callees.total.wallUs[0]! / requests)} per request` : ''}`),
        h('button', { type: 'button', class: 'btn btn-small close-sandwich', onclick: onClose, style: 'margin-left:auto' }, 'Close'),
      ),
    );
    const lines = frameLines(frame);
    if (lines.length) {
      const byTime = tree.total.wallUs[0]! > 0;
      const selfAll = lines.reduce((a, l) => a + (byTime ? l.self.wallUs : l.self.samples), 0);
      this.element.append(
        h(
          'table',
          { class: 'table sandwich-lines' },
          h('caption', { class: 'small muted' }, `Self time by line: ${f.name} was sampled at ${lines.length} line${lines.length === 1 ? '' : 's'}`),
          h('thead', {}, h('tr', {}, h('th', {}, 'Line'), h('th', { class: 'num' }, 'Self'), h('th', { class: 'num' }, 'Share of its self time'))),
          h(
            'tbody',
            {},
            ...lines.map((l) => {
              const v = byTime ? l.self.wallUs : l.self.samples;
              return h('tr', {}, h('td', { class: 'mono' }, f.file ? displayWhere(f.file, l.line, roots) : `line ${l.line || '?'}`), h('td', { class: 'num' }, byTime ? formatUs(v) : formatInt(v)), h('td', { class: 'num' }, formatShare(selfAll ? v / selfAll : 0)));
            }),
          ),
        ),
      );
    }
    const part = (title: string, t: CallTree, orientation: 'flame' | 'icicle', callers: boolean): void => {
      const box = h('div', { class: `sandwich-part sandwich-${orientation === 'flame' ? 'callers' : 'callees'}` }, h('div', { class: 'sandwich-label' }, title));
      this.element.append(box);
      const model = makeTreeModel(t, requests, f.name, undefined, roots);
      const view: FlameView = new FlameView(box, {
        orientation,
        hideRoot: true,
        ariaLabel: title,
        onZoom: (zoom) => view.setState({ zoom }),
        tooltip: treeTooltip(model, callers ? f.name : undefined),
      });
      view.setModel(model);
      this.views.push(view);
    };
    part('Callers (who calls it, bottom-up)', s.callers, 'flame', true);
    part('Callees (what it calls)', s.callees, 'icicle', false);
    return true;
  }

  /** Re-applies a search to both halves. */
  search(q: string): void {
    for (const v of this.views) v.setState({ query: q });
  }

  clear(): void {
    for (const v of this.views) v.destroy();
    this.views = [];
    this.element.replaceChildren();
  }

  destroy(): void {
    this.clear();
    this.element.remove();
  }
}
