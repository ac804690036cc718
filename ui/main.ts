import { api } from './api/client.js';
import { credentials, type AuthProblem } from './api/credentials.js';
import { live } from './api/events.js';
import { tokenForm } from './components/token-form.js';
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

// Sign-in: an API call answered 401, so the page is hidden behind the token form until a token is
// given; then the page is mounted afresh and the live stream reopened with the token.
const authBox = h('section', { class: 'auth', hidden: true, 'aria-label': 'Sign in' });
const notice = h('div', { class: 'access-notice', hidden: true, role: 'status' });
root.before(authBox, notice);
let asking = false;
credentials.onRequired((problem: AuthProblem) => {
  if (asking) return;
  asking = true;
  const hadToken = credentials.token() !== undefined;
  credentials.clear();
  live.restart();
  current?.page.destroy();
  current = undefined;
  root.hidden = true;
  notice.hidden = true;
  authBox.replaceChildren(
    tokenForm(problem, hadToken, (token) => {
      credentials.set(token);
      asking = false;
      authBox.hidden = true;
      authBox.replaceChildren();
      root.hidden = false;
      root.replaceChildren();
      live.restart();
      onRoute();
      void showAccess();
    }),
  );
  authBox.hidden = false;
  authBox.querySelector('textarea')?.focus();
  signedIn.replaceChildren();
});
onRoute();

// The top bar: mode, version and whether live updates flow.
const status = document.getElementById('status')!;
const dot = h('span', { class: 'live-dot', title: 'Live updates' });
const mode = h('span', { class: 'mode' });
const signedIn = h('span', { class: 'signed-in' });
status.append(signedIn, mode, dot);

/** With a token: who it is, a way to forget it, and a notice when it reaches no namespace at all. */
async function showAccess(): Promise<void> {
  if (!credentials.token()) return;
  let a;
  try {
    a = await api.access();
  } catch {
    return;
  }
  const out = h('button', { type: 'button', class: 'btn btn-small sign-out', title: 'Forget the token in this tab' }, 'Sign out');
  out.addEventListener('click', () => {
    credentials.clear();
    location.reload();
  });
  signedIn.replaceChildren(h('span', { class: 'user' }, a.user), out);
  const none = a.namespaces !== 'all' && a.namespaces.length === 0;
  notice.hidden = !none;
  notice.replaceChildren(
    none
      ? h('p', {}, `${a.user} may not list ProfilingSessions in any namespace Sonde has data for, so nothing is shown. Ask for a Role with get and list on profilingsessions.sonde.dev in your namespace.`)
      : '',
  );
}
void showAccess();
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
