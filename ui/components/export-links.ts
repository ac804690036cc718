import { EXPORT_FORMAT_META, EXPORT_FORMATS } from '../../src/export/formats.js';
import { exportUrl, type TreeQuery } from '../api/client.js';
import { h } from '../util/dom.js';

/**
 * A small "Export" menu of download links, one per format the core knows (src/export's registry, so
 * the UI and the API cannot disagree), carrying the view's filters: the file holds exactly the tree
 * on screen.
 */
export function exportLinks(sessionId: string, q: TreeQuery, label = 'Export'): HTMLElement {
  const menu = h(
    'details',
    { class: 'exports' },
    h('summary', { class: 'btn btn-small' }, label, h('span', { class: 'caret', 'aria-hidden': 'true' }, '▾')),
    h(
      'ul',
      { class: 'menu', role: 'list', 'aria-label': `${label}: download this tree` },
      ...EXPORT_FORMATS.map((f) =>
        h('li', {}, h('a', { href: exportUrl(sessionId, f, q), download: '', 'data-format': f }, h('span', { class: 'menu-main' }, f), h('span', { class: 'menu-note' }, EXPORT_FORMAT_META[f].label))),
      ),
    ),
  );
  // Close when the choice is made or the user clicks elsewhere.
  menu.addEventListener('click', (ev) => {
    if ((ev.target as HTMLElement).closest('a')) menu.open = false;
  });
  document.addEventListener('click', (ev) => {
    if (menu.open && !menu.contains(ev.target as Node)) menu.open = false;
  });
  return menu;
}
