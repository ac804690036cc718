import { apiUrl } from './client.js';
import type { SessionView } from './types.js';

/** What the live stream tells its listeners. */
export interface LiveHandlers {
  session?: (s: SessionView) => void;
  agents?: (count: number) => void;
  /** `true` once connected, `false` while the browser retries a lost stream. */
  connection?: (open: boolean) => void;
}

/**
 * One shared EventSource on `/api/v1/events` for the whole app; pages subscribe and unsubscribe as they
 * mount, so navigating never opens a second stream. EventSource reconnects by itself.
 */
class LiveStream {
  private source: EventSource | undefined;
  private readonly listeners = new Set<LiveHandlers>();
  private open = false;

  subscribe(h: LiveHandlers): () => void {
    this.listeners.add(h);
    this.ensure();
    h.connection?.(this.open);
    return () => {
      this.listeners.delete(h);
    };
  }

  private ensure(): void {
    if (this.source || typeof EventSource === 'undefined') return;
    const es = new EventSource(apiUrl('/events'));
    this.source = es;
    es.onopen = () => this.setOpen(true);
    es.onerror = () => this.setOpen(false);
    es.addEventListener('session', (ev) => {
      const s = parse<SessionView>((ev as MessageEvent<string>).data);
      if (s && typeof s.id === 'string') for (const l of this.listeners) l.session?.(s);
    });
    es.addEventListener('agents', (ev) => {
      const data = parse<number | { count: number }>((ev as MessageEvent<string>).data);
      const count = typeof data === 'number' ? data : data?.count;
      if (typeof count === 'number') for (const l of this.listeners) l.agents?.(count);
    });
  }

  private setOpen(open: boolean): void {
    if (open === this.open) return;
    this.open = open;
    for (const l of this.listeners) l.connection?.(open);
  }
}

function parse<T>(data: string): T | undefined {
  try {
    return JSON.parse(data) as T;
  } catch {
    return undefined;
  }
}

/** The app's one live stream. */
export const live = new LiveStream();
