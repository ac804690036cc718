import type { SessionView } from '../../src/session/types.js';
import type { ApiClient } from './api-client.js';

/** How `--wait` polls; injected so tests and callers decide the pace. */
export interface WaitOptions {
  intervalMs: number;
  sleep: (ms: number) => Promise<void>;
  /** Called with each new `phase progress` line. */
  onChange: (view: SessionView) => void;
}

/**
 * Polls a session until it ends (Completed or Failed) and resolves with its last view. No deadline of
 * its own: the operator ends every session by its spec.duration (at most 1h); each poll has the
 * connection's timeout, so an operator that goes away ends the wait with an error.
 */
export async function waitForEnd(client: ApiClient, ref: string, options: WaitOptions): Promise<SessionView> {
  let last = '';
  for (;;) {
    const view = await client.json<SessionView>('GET', `/api/v1/sessions/${ref}`);
    const line = `${view.status.phase} ${view.status.progress}`;
    if (line !== last) {
      options.onChange(view);
      last = line;
    }
    if (view.status.phase === 'Completed' || view.status.phase === 'Failed') return view;
    await options.sleep(options.intervalMs);
  }
}
