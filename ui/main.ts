import { api } from './api/client.js';
import { live } from './api/events.js';
import type { InfoResponse } from './api/types.js';
import { comparePage } from './pages/compare.js';
import { hotspotsPage } from './pages/hotspots.js';
import { notFoundPage } from './pages/not-found.js';
import type { AppContext, Page, PageFactory } from './pages/page.js';
import { sessionPage } from './pages/session.js';
import { sessionsPage } from './pages/sessions.js';
import { parseHash, routeKey, type Route } from './router.js';
import { h } from './util/dom.js';

/** The app: reads the hash, mounts the page it names, and hands URL changes to the mounted page. */

const pages: Record<Route['page'], PageFactory> = {
  sessions: sessionsPage,
  session: sessionPage,
  compare: comparePage,
  hotspots: hotspotsPage,
  'not-found': notFoundPage,
};

let infoPromise: Promise<InfoResponse | undefined> | undefined;
const ctx: AppContext = {
  info() {
    // Read once; a failure is retried on the next call (the operator may come back).
    infoPromise ??= api.info().catch(() => {
      infoPromise = undefined;
      return undefined;
    });
    return infoPromise;
  },
};

const root = document.getElementById('app')!;
let current: { key: string; page: Page } | undefined;

function onRoute(): void {
  const route = parseHash(location.hash);
  const key = routeKey(route);
  for (const a of document.querySelectorAll<HTMLAnchorElement>('[data-nav]')) {
    const active = a.dataset['nav'] === (route.page === 'session' ? 'sessions' : route.page);
    if (active) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (current && current.key === key && current.page.update) {
    current.page.update(route);
    return;
  }
  current?.page.destroy();
  root.replaceChildren();
  window.scrollTo(0, 0);
  current = { key, page: pages[route.page](root, route, ctx) };
}

window.addEventListener('hashchange', onRoute);
onRoute();

// The top bar: mode, version and whether live updates flow.
const status = document.getElementById('status')!;
const dot = h('span', { class: 'live-dot', title: 'Live updates' });
const mode = h('span', { class: 'mode' });
status.append(mode, dot);
void ctx.info().then((i) => {
  if (i) mode.textContent = `${i.mode}${i.version ? ` · v${i.version}` : ''}`;
});
live.subscribe({
  connection: (open) => {
    dot.classList.toggle('on', open);
    dot.title = open ? 'Live updates: connected' : 'Live updates: reconnecting…';
    dot.setAttribute('aria-label', dot.title);
  },
});
