import { EXPORTERS, EXPORT_FORMATS } from '../../src/export/index.js';
import { exportUrl, type TreeQuery } from '../api/client.js';
import { h } from '../util/dom.js';

/**
 * Download links for every export format the core knows (src/export's registry, so the UI and the
 * API cannot disagree), carrying the view's filters: the file holds exactly the tree on screen.
 */
export function exportLinks(sessionId: string, q: TreeQuery, label = 'Export'): HTMLElement {
  return h(
    'div',
    { class: 'exports', role: 'group', 'aria-label': `${label}: download this tree` },
    h('span', { class: 'inline-label' }, label),
    ...EXPORT_FORMATS.map((f) =>
      h('a', { href: exportUrl(sessionId, f, q), download: '', 'data-format': f, title: `Download as ${EXPORTERS[f].label}` }, f),
    ),
  );
}
