import { apiUrl } from './client.js';
import { credentials } from './credentials.js';
import { FetchEventStream } from './event-stream.js';
import type { SessionView } from './types.js';

/** What the live stream tells its listeners. */
export interface LiveHandlers {
  session?: (s: SessionView) => void;
  agents?: (count: number) => void;
  /** `true` once connected, `false` while the browser retries a lost stream. */
  connection?: (open: boolean) => void;
}

/**
 * One shared stream on `/api/v1/events` for the whole app; pages subscribe and unsubscribe as they
 * mount, so navigating never opens a second stream. Without a token it is an EventSource (which
 * reconnects by itself); with one it is a fetch stream, because EventSource cannot send the
 * Authorization header and a token must not go into a URL.
 */
class LiveStream {
  private source: EventSource | undefined;
  private fetched: FetchEventStream | undefined;
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

  /** Drops the current stream and opens a new one (after a token was given or removed). */
  restart(): void {
    this.source?.close();
    this.source = undefined;
    this.fetched?.stop();
    this.fetched = undefined;
    this.setOpen(false);
    this.ensure();
  }

  private ensure(): void {
    if (this.source || this.fetched) return;
    if (credentials.token()) {
      if (typeof fetch === 'undefined') return;
      this.fetched = new FetchEventStream({
        url: apiUrl('/events'),
        headers: () => credentials.headers(),
        onEvent: (e) => this.dispatch(e.event, e.data),
        onOpen: (open) => this.setOpen(open),
        onUnauthorized: (code, message) => credentials.required({ code, message }),
      });
      this.fetched.start();
      return;
    }
    if (typeof EventSource === 'undefined') return;
    const es = new EventSource(apiUrl('/events'));
    this.source = es;
    es.onopen = () => this.setOpen(true);
    es.onerror = () => this.setOpen(false);
    es.addEventListener('session', (ev) => this.dispatch('session', (ev as MessageEvent<string>).data));
    es.addEventListener('agents', (ev) => this.dispatch('agents', (ev as MessageEvent<string>).data));
  }

  private dispatch(event: string, raw: string): void {
    if (event === 'session') {
      const s = parse<SessionView>(raw);
      if (s && typeof s.id === 'string') for (const l of this.listeners) l.session?.(s);
    } else if (event === 'agents') {
      const data = parse<number | { count: number }>(raw);
      const count = typeof data === 'number' ? data : data?.count;
      if (typeof count === 'number') for (const l of this.listeners) l.agents?.(count);
    }
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
