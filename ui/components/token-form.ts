import type { AuthProblem } from '../api/credentials.js';
import { h } from '../util/dom.js';
import { LOCAL_LISTENER_PORT, OPERATOR_NAMESPACE } from './reach-hint.js';

/**
 * The sign-in panel shown when the API answers 401: paste a Kubernetes token (or the operator's
 * SONDE_TOKEN in standalone mode). Says why it is shown: no token yet, or the one given was refused
 * (with the operator's message), and how to do without one (the port-forward listener).
 */
export function tokenForm(problem: AuthProblem, hadToken: boolean, onToken: (token: string) => void): HTMLElement {
  const input = h('textarea', { id: 'sonde-token', name: 'token', rows: 4, spellcheck: 'false', autocomplete: 'off', required: true, placeholder: 'eyJhbGciOiJSUzI1NiIsImtpZCI6…' });
  const refused = hadToken || problem.code === 'SONDE_TOKEN_REFUSED';
  const form = h(
    'form',
    { class: 'token-form', 'aria-labelledby': 'token-title' },
    h('h2', { id: 'token-title' }, refused ? 'The token was refused' : 'This Sonde needs a token'),
    refused ? h('p', { class: 'token-error', role: 'alert' }, problem.message) : null,
    h('p', {}, 'Paste a Kubernetes token that may list ProfilingSessions in the namespaces you want to see, for example:'),
    h('pre', { class: 'snippet' }, 'kubectl create token <service-account> -n <namespace>'),
    h('p', { class: 'muted' }, `In standalone mode, paste the operator's SONDE_TOKEN. Or reach the UI without a token: kubectl -n ${OPERATOR_NAMESPACE} port-forward deploy/sonde ${LOCAL_LISTENER_PORT} (its local listener), then open http://localhost:${LOCAL_LISTENER_PORT}. The token is kept in this tab only (sessionStorage).`),
    h('label', { for: 'sonde-token' }, 'Token'),
    input,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Use this token')),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    if (token) onToken(token);
  });
  return h('div', { class: 'state token-state' }, form);
}
