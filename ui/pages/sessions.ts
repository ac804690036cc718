import { select } from 'd3-selection';
import { api } from '../api/client.js';
import { live } from '../api/events.js';
import type { InfoResponse, SessionView } from '../api/types.js';
import { phaseBadge, podsSummary, progressBar } from '../components/session-bits.js';
import { typeUnseenMark } from '../components/session-notes.js';
import { startSessionForm } from '../components/start-session-form.js';
import { emptyState, errorState, kubectlSnippet, loadingState, snippet } from '../components/states.js';
import { sessionHref } from '../router.js';
import { clear, h } from '../util/dom.js';
import { formatAge, formatSelector } from '../util/format.js';
import type { PageFactory } from './page.js';

/**
 * Every session with its phase and live progress (pushed over /api/v1/events), and in standalone mode
 * the form that starts one. With no sessions, it says how to start the first one.
 */
export const sessionsPage: PageFactory = (root, _route, ctx) => {
  let sessions: SessionView[] = [];
  let info: InfoResponse | undefined;
  let destroyed = false;
  let showForm = false;
  const body = h('div', { class: 'page-body' });
  const header = h('div', { class: 'page-head' }, h('h1', {}, 'Profiling sessions'));
  root.append(header, body);
  body.append(loadingState('Loading sessions…'));

  const render = (): void => {
    clear(body);
    const standalone = info?.mode === 'standalone';
    const toggle = header.querySelector('.start-toggle');
    if (standalone && !toggle && sessions.length > 0) {
      header.append(
        h('button', { type: 'button', class: 'btn btn-primary start-toggle', onclick: () => ((showForm = !showForm), render()) }, 'Start a session'),
      );
    }
    const form = (): HTMLElement => startSessionForm({ namespace: info?.namespace ?? 'default', onCreated: (s) => (location.hash = sessionHref(s.id)) });
    if (sessions.length === 0) {
      body.append(
        emptyState(
          'No profiling sessions yet',
          standalone
            ? 'Pick a request type your agents have seen and profile its next requests — or apply a ProfilingSession from a terminal:'
            : 'Start one by applying a ProfilingSession in the namespace of the pods you want to profile:',
          standalone ? form() : null,
          snippet(kubectlSnippet(info?.namespace ?? 'default')),
          h('p', { class: 'muted' }, 'Pods need the agent: annotate them with ', h('code', {}, 'sonde.dev/inject: node'), ' (or ', h('code', {}, 'python'), ').'),
        ),
      );
      return;
    }
    if (standalone && showForm) body.append(form());
    body.append(sessionsTable(sessions));
  };

  const load = (): void => {
    Promise.all([api.sessions(), ctx.info()]).then(
      ([items, i]) => {
        if (destroyed) return;
        sessions = items;
        info = i;
        render();
      },
      (err: unknown) => {
        if (destroyed) return;
        clear(body);
        body.append(errorState(err, () => (clear(body), body.append(loadingState('Loading sessions…')), load())));
      },
    );
  };
  load();

  const unsubscribe = live.subscribe({
    session: (s) => {
      const i = sessions.findIndex((x) => x.id === s.id);
      if (i >= 0) sessions[i] = s;
      else sessions.unshift(s);
      const tbody = body.querySelector<HTMLTableSectionElement>('table.sessions tbody');
      // The first session replaces the empty state; after that only the rows change.
      if (tbody) joinRows(tbody, sessions);
      else render();
    },
  });
  // Ages tick while the page is open.
  const timer = window.setInterval(() => {
    for (const cell of body.querySelectorAll<HTMLElement>('td.age[data-created]')) cell.textContent = formatAge(cell.dataset['created']);
  }, 10_000);

  return {
    destroy() {
      destroyed = true;
      unsubscribe();
      clearInterval(timer);
    },
  };
};

function sessionsTable(sessions: SessionView[]): HTMLElement {
  return h(
    'div',
    { class: 'card table-card' },
    h(
      'table',
      { class: 'table sessions' },
      h('caption', { class: 'sr-only' }, 'Profiling sessions, newest first'),
      h(
        'thead',
        {},
        h('tr', {}, h('th', {}, 'Session'), h('th', {}, 'Phase'), h('th', {}, 'Progress'), h('th', {}, 'Request type'), h('th', {}, 'Pods'), h('th', {}, 'Selector'), h('th', { class: 'num' }, 'Age')),
      ),
      joinRows(h('tbody'), sessions),
    ),
  );
}

/** A keyed join on the session id: live updates replace a row's cells in place and keep the order. */
function joinRows(tbody: HTMLTableSectionElement, sessions: SessionView[]): HTMLTableSectionElement {
  select(tbody)
    .selectAll<HTMLTableRowElement, SessionView>('tr')
    .data(sessions, (d) => d.id)
    .join((enter) => enter.append('tr'))
    .attr('data-id', (d) => d.id)
    .attr('data-phase', (d) => d.status.phase)
    .each(function (d) {
      this.replaceChildren(...sessionCells(d));
    })
    .order();
  return tbody;
}

function sessionCells(s: SessionView): HTMLTableCellElement[] {
  return [
    h('td', {}, h('a', { href: sessionHref(s.id), class: 'session-link' }, s.name), h('div', { class: 'muted small' }, s.namespace)),
    h('td', {}, phaseBadge(s.status.phase)),
    h('td', {}, progressBar(s)),
    h('td', { class: 'mono' }, s.spec.request, typeUnseenMark(s)),
    h('td', {}, podsSummary(s)),
    h('td', { class: 'mono small' }, formatSelector(s.spec.selector)),
    h('td', { class: 'num age', 'data-created': s.createdAt, title: s.createdAt }, formatAge(s.createdAt)),
  ];
}
