import { EXPORT_FORMAT_META, EXPORT_FORMATS } from '../../src/export/formats.js';
import { exportUrl, type TreeQuery } from '../api/client.js';
import { credentials } from '../api/credentials.js';
import { h } from '../util/dom.js';

/**
 * With a token, a plain link would download a 401: fetch the file with the Authorization header and
 * hand the browser a blob instead (the token never goes into a URL).
 */
async function downloadWithToken(href: string): Promise<void> {
  const res = await fetch(href, { headers: credentials.headers() });
  if (res.status === 401) return credentials.required({ code: 'SONDE_TOKEN_REFUSED', message: 'The token was refused while downloading' });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? 'sonde-export';
  const url = URL.createObjectURL(await res.blob());
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

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
    const link = (ev.target as HTMLElement).closest('a');
    if (!link) return;
    menu.open = false;
    if (credentials.token()) {
      ev.preventDefault();
      void downloadWithToken(link.href).catch((err: unknown) => console.warn('export failed', err));
    }
  });
  document.addEventListener('click', (ev) => {
    if (menu.open && !menu.contains(ev.target as Node)) menu.open = false;
  });
  return menu;
}
