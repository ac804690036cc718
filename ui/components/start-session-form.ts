import { api, ApiError } from '../api/client.js';
import type { RequestTypeView, SessionView } from '../api/types.js';
import { h, clear } from '../util/dom.js';
import { formatInt, formatMs } from '../util/format.js';

/**
 * Standalone mode's "start a session" form: pick a request type from the agents' catalogue (with how
 * often it was seen and its latency percentiles), set how many requests and for how long, POST it.
 * The API's validation messages are shown next to the form, field by field.
 */
export function startSessionForm(opts: { namespace: string; onCreated: (s: SessionView) => void }): HTMLElement {
  const body = h('div', { class: 'form-body' }, h('p', { class: 'muted' }, 'Loading the request types your agents have seen…'));
  const card = h('section', { class: 'card start-form', 'aria-labelledby': 'start-title' }, h('h2', { id: 'start-title' }, 'Start a session'), body);
  const load = (): void => {
    api.requestTypes().then(
      (types) => render(types),
      (err: unknown) => {
        clear(body);
        body.append(h('p', { class: 'form-error', role: 'alert' }, `Could not load request types: ${(err as Error).message}`), h('button', { type: 'button', class: 'btn', onclick: load }, 'Try again'));
      },
    );
  };

  const render = (types: RequestTypeView[]): void => {
    clear(body);
    if (types.length === 0) {
      body.append(
        h('p', {}, 'No agent has reported any requests yet. Start your app with the agent and send it some traffic; request types appear here as they are seen.'),
        h('pre', { class: 'snippet' }, "NODE_OPTIONS='--import sonde/agent' SONDE_OPERATOR=ws://localhost:7070 node server.js"),
        h('button', { type: 'button', class: 'btn', onclick: load }, 'Refresh'),
      );
      return;
    }
    const sorted = [...types].sort((a, b) => b.count - a.count);
    const rows = sorted.map((t, i) =>
      h(
        'tr',
        {},
        h('td', {}, h('input', { type: 'radio', name: 'request', value: t.type, id: `rt-${i}`, required: true, checked: i === 0 })),
        h('td', {}, h('label', { for: `rt-${i}`, class: 'mono' }, t.type)),
        h('td', { class: 'num' }, formatInt(t.count)),
        h('td', { class: 'num' }, formatMs(t.p50Ms)),
        h('td', { class: 'num' }, formatMs(t.p90Ms)),
        h('td', { class: 'num' }, formatMs(t.p99Ms)),
        h('td', { class: 'num muted' }, t.errors ? formatInt(t.errors) : '–'),
      ),
    );
    const table = h(
      'table',
      { class: 'table request-types' },
      h('caption', { class: 'sr-only' }, 'Request types seen by the agents'),
      h('thead', {}, h('tr', {}, h('th', {}), h('th', {}, 'Request type'), h('th', { class: 'num' }, 'Seen'), h('th', { class: 'num' }, 'p50'), h('th', { class: 'num' }, 'p90'), h('th', { class: 'num' }, 'p99'), h('th', { class: 'num' }, 'Errors'))),
      h('tbody', {}, ...rows),
    );
    const field = (label: string, input: HTMLElement, hint?: string): HTMLElement =>
      h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), input, hint ? h('span', { class: 'field-hint' }, hint) : null);
    const name = h('input', { name: 'name', required: true, pattern: '[a-z0-9]([-a-z0-9]*[a-z0-9])?', maxlength: 63, value: `session-${new Date().toISOString().slice(5, 16).replace(/[-T:]/g, '')}` });
    const ns = h('input', { name: 'namespace', value: opts.namespace });
    const selector = h('input', { name: 'selector', placeholder: 'app=checkout (empty: every pod with an agent)' });
    const requests = h('input', { name: 'requests', type: 'number', min: 1, max: 10000, value: 100 });
    const duration = h('input', { name: 'duration', value: '5m' });
    const interval = h('input', { name: 'sampleInterval', value: '10ms' });
    const errors = h('div', { class: 'form-errors', role: 'alert', 'aria-live': 'assertive' });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Start profiling');
    const form = h(
      'form',
      { class: 'start', novalidate: true },
      h('fieldset', {}, h('legend', {}, 'Request type'), table),
      h(
        'div',
        { class: 'fields' },
        field('Name', name),
        field('Namespace', ns),
        field('Pods (label selector)', selector),
        field('Requests', requests, 'the next N matching requests'),
        field('Deadline', duration, 'e.g. 90s, 5m, 1h'),
        field('Sample every', interval, '1ms – 1s'),
      ),
      errors,
      h('div', { class: 'form-actions' }, submit),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      clear(errors);
      const picked = form.querySelector<HTMLInputElement>('input[name=request]:checked');
      let matchLabels: Record<string, string>;
      try {
        matchLabels = parseSelector(selector.value);
      } catch (e) {
        errors.append(h('p', { class: 'form-error' }, (e as Error).message));
        return;
      }
      submit.disabled = true;
      submit.textContent = 'Starting…';
      api
        .createSession({
          name: name.value.trim(),
          namespace: ns.value.trim() || undefined,
          spec: {
            selector: { matchLabels },
            request: picked?.value ?? '',
            requests: Number(requests.value),
            duration: duration.value.trim(),
            sampleInterval: interval.value.trim(),
          },
        })
        .then(
          (s) => opts.onCreated(s),
          (err: unknown) => {
            submit.disabled = false;
            submit.textContent = 'Start profiling';
            const e = err as ApiError;
            if (e instanceof ApiError && e.problems.length) {
              // The API's message already lists every problem in one line; the list says it once, readably.
              const n = e.problems.length;
              errors.append(
                h('p', { class: 'form-error' }, `The operator refused this session (${e.code}): ${n === 1 ? 'one problem' : `${n} problems`} to fix.`),
                h('ul', { class: 'problems' }, ...e.problems.map((p) => h('li', {}, h('code', {}, p.field), ' ', p.message))),
              );
            } else {
              errors.append(h('p', { class: 'form-error' }, e.message));
            }
          },
        );
    });
    body.append(form);
  };
  load();
  return card;
}

/** `app=checkout, tier=web` → matchLabels; anything else is a clear error. */
export function parseSelector(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9./_-]+)\s*=\s*([A-Za-z0-9._-]*)$/.exec(part);
    if (!m) throw new Error(`"${part}" is not a label (write key=value, separated by commas)`);
    out[m[1]!] = m[2]!;
  }
  return out;
}
