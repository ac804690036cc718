import type { ApiError } from '../api/client.js';
import { h } from '../util/dom.js';
import { unreachableHint } from './reach-hint.js';

/** Loading, empty and error states: each says what is going on and what to do next. */

export function loadingState(what = 'Loading…'): HTMLElement {
  return h('div', { class: 'state state-loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), what);
}

/** The error state: "unreachable" gets a hint naming the port this page came from; API errors show their code and message. */
export function errorState(err: unknown, retry?: () => void): HTMLElement {
  const e = err as Partial<ApiError> & Error;
  const unreachable = e.unreachable === true;
  const box = h(
    'div',
    { class: 'state state-error', role: 'alert' },
    h('h2', {}, unreachable ? 'The Sonde operator is unreachable' : 'Something went wrong'),
    h('p', { class: 'error-message' }, e.message ?? String(err)),
    e.code && !unreachable ? h('p', { class: 'muted' }, 'Error code ', h('code', {}, e.code)) : null,
  );
  if (unreachable) {
    const hint = unreachableHint(location);
    box.append(h('p', {}, hint.text), h('pre', { class: 'snippet' }, hint.commands));
  }
  if (retry) box.append(h('button', { type: 'button', class: 'btn', onclick: () => retry() }, 'Try again'));
  return box;
}

/** An empty state with a title, a sentence and optional content (a snippet, a form). */
export function emptyState(title: string, text: string, ...extra: (Node | null)[]): HTMLElement {
  return h('div', { class: 'state state-empty' }, h('h2', {}, title), h('p', {}, text), ...extra);
}

/** A `<pre>` with a copy button. */
export function snippet(text: string, label = 'Copy'): HTMLElement {
  const pre = h('pre', { class: 'snippet' }, text);
  const btn = h('button', { type: 'button', class: 'btn btn-small copy' }, label);
  btn.addEventListener('click', () => {
    void navigator.clipboard?.writeText(text).then(
      () => {
        btn.textContent = 'Copied';
        setTimeout(() => (btn.textContent = label), 1500);
      },
      () => {
        btn.textContent = 'Select and copy';
      },
    );
  });
  return h('div', { class: 'snippet-wrap' }, pre, btn);
}

/** The `kubectl apply` that starts a first session, as the sessions page shows it. */
export function kubectlSnippet(namespace = 'default'): string {
  return `kubectl apply -f - <<EOF
apiVersion: sonde.dev/v1alpha1
kind: ProfilingSession
metadata:
  name: checkout-orders
  namespace: ${namespace}
spec:
  selector:
    matchLabels:
      app: checkout          # pods annotated sonde.dev/inject: node
  request: "GET /api/orders/:id"
  requests: 100              # the next 100 matching requests
  duration: 5m               # or stop at this deadline
  sampleInterval: 10ms
EOF`;
}
