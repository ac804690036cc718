/** One server-sent event. */
export interface StreamEvent {
  event: string;
  data: string;
}

export interface FetchStreamOptions {
  url: string;
  headers: () => Record<string, string>;
  onEvent: (e: StreamEvent) => void;
  onOpen: (open: boolean) => void;
  /** The server refused the credentials (401): the stream stops until `start()` is called again. */
  onUnauthorized: (code: string, message: string) => void;
}

/**
 * Server-sent events over fetch, for when a bearer token must be sent: EventSource cannot set headers,
 * and a token in the URL would end up in logs and history. Parses the text/event-stream format (event,
 * data, retry; comments ignored) and reconnects after the server's `retry` delay, as EventSource does.
 */
export class FetchEventStream {
  private abort: AbortController | undefined;
  private retryMs = 3000;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly o: FetchStreamOptions) {}

  start(): void {
    this.stop();
    const ac = new AbortController();
    this.abort = ac;
    void this.run(ac).catch(() => undefined).finally(() => {
      if (this.abort !== ac || ac.signal.aborted) return;
      this.o.onOpen(false);
      this.timer = setTimeout(() => this.start(), this.retryMs);
    });
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.abort?.abort();
    this.abort = undefined;
  }

  private async run(ac: AbortController): Promise<void> {
    const res = await fetch(this.o.url, { headers: { accept: 'text/event-stream', ...this.o.headers() }, signal: ac.signal, cache: 'no-store' });
    if (res.status === 401) {
      let code = 'SONDE_AUTH_REQUIRED';
      let message = 'This Sonde needs a token';
      try {
        const body = (await res.json()) as { error?: { code?: string; message?: string } };
        code = body.error?.code ?? code;
        message = body.error?.message ?? message;
      } catch {
        // keep the defaults
      }
      ac.abort();
      this.abort = undefined;
      this.o.onOpen(false);
      this.o.onUnauthorized(code, message);
      return;
    }
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
    this.o.onOpen(true);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let event = 'message';
    let data: string[] = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        if (line === '') {
          if (data.length) this.o.onEvent({ event, data: data.join('\n') });
          event = 'message';
          data = [];
        } else if (line.startsWith(':')) continue;
        else {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event = val;
          else if (field === 'data') data.push(val);
          else if (field === 'retry' && /^\d+$/.test(val)) this.retryMs = Number(val);
        }
      }
    }
  }
}
