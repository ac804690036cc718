/**
 * The bearer token the UI sends, when the operator asks for one (`--auth kubernetes` or `token`). Kept in
 * sessionStorage: it lives as long as the tab, never in a URL, a cookie (so no cross-site request can
 * carry it) or localStorage (so it does not outlive the tab).
 */

const KEY = 'sonde.token';

/** Why the API refused: no token yet, or the one given was refused (its code and message). */
export interface AuthProblem {
  code: string;
  message: string;
}

const listeners = new Set<(p: AuthProblem) => void>();

function storage(): Storage | undefined {
  try {
    return window.sessionStorage;
  } catch {
    return undefined;
  }
}

export const credentials = {
  token(): string | undefined {
    return storage()?.getItem(KEY) ?? undefined;
  },
  /** Trims what was pasted (kubectl's output ends with a newline; "Bearer " prefixes are forgiven). */
  set(token: string): void {
    storage()?.setItem(KEY, token.trim().replace(/^Bearer\s+/i, ''));
  },
  clear(): void {
    storage()?.removeItem(KEY);
  },
  /** The Authorization header for every API call, if a token is set. */
  headers(): Record<string, string> {
    const t = credentials.token();
    return t ? { authorization: `Bearer ${t}` } : {};
  },
  /** The API answered 401: the app shows the token form. */
  required(problem: AuthProblem): void {
    for (const l of listeners) l(problem);
  },
  onRequired(fn: (p: AuthProblem) => void): () => void {
    listeners.add(fn);
    return () => void listeners.delete(fn);
  },
};
