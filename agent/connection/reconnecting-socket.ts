import net from 'node:net';
import tls from 'node:tls';
import WebSocket from 'ws';
import { PROTOCOL_LIMITS } from '../../src/protocol/messages.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../log.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';

export interface SocketOptions {
  url: string;
  /** PEM certificates trusted on wss:// in place of the system's (the operator's own CA). */
  ca?: string;
  /** Headers for each dial, asked afresh every time (a token file may have rotated). */
  headers(): Promise<Record<string, string>>;
  clock: Clock;
  log: Logger;
  backoff?: BackoffPolicy;
  random?: () => number;
  onOpen(): void;
  onMessage(text: string): void;
  onClose(code: number, reason: string): void;
}

/** Until the operator's welcome says otherwise, it is assumed to ping at least this often. */
const DEFAULT_HEARTBEAT_MS = 30_000;
/** Queued-but-unsent bytes above which the socket counts as unable to take more. */
const MAX_BUFFERED = 16 * 1024 * 1024;

/**
 * One WebSocket to the operator that keeps itself up: it dials, and after any loss dials again with
 * capped, jittered backoff. The operator pings; three heartbeat intervals without a word from it and
 * the socket is terminated and redialled. Sockets are unref'd: the agent never keeps the app alive.
 */
export class ReconnectingSocket {
  private ws: WebSocket | undefined;
  private attempt = 0;
  private retryTimer: TimerHandle | undefined;
  private silenceTimer: TimerHandle | undefined;
  private heartbeatMs = DEFAULT_HEARTBEAT_MS;
  /** The link of this socket was welcomed (healthy) and not yet lost. */
  private healthy = false;
  /** When a healthy link was last lost: retries stay short for a while after (backoff.ts). */
  private lostHealthyAt: number | undefined;
  private stopped = false;
  private readonly log: Logger;

  constructor(private readonly o: SocketOptions) {
    this.log = o.log.child({ module: 'connection' });
  }

  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.dial().catch((err: unknown) => this.log.error({ err }, 'dial failed'));
  }

  /** The operator's announced ping interval: silence for three of them means the link is dead. */
  setHeartbeat(ms: number): void {
    this.heartbeatMs = ms;
    this.touch();
  }

  /** The link proved useful (the operator welcomed us): the next loss starts backoff from scratch. */
  markHealthy(): void {
    this.attempt = 0;
    this.healthy = true;
    this.lostHealthyAt = undefined;
  }

  /** Sends now if the socket can take it; false means the caller should keep the message. */
  send(text: string): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || ws.bufferedAmount > MAX_BUFFERED) return false;
    ws.send(text, (err) => {
      if (err) this.log.debug({ err }, 'send failed');
    });
    return true;
  }

  /** Closes for good with 1001 (going away). */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) this.o.clock.clearTimeout(this.retryTimer);
    if (this.silenceTimer) this.o.clock.clearTimeout(this.silenceTimer);
    const ws = this.ws;
    this.ws = undefined;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1000);
      t.unref();
      ws.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      ws.close(1001, 'agent shutting down');
    });
  }

  private async dial(): Promise<void> {
    if (this.stopped) return;
    let headers: Record<string, string>;
    try {
      headers = await this.o.headers();
    } catch (err) {
      this.log.warn({ err }, 'cannot read the agent token; retrying');
      return this.retry();
    }
    if (this.stopped) return;
    try {
      this.open(headers);
    } catch (err) {
      // A URL ws cannot parse, a socket that cannot be made: log, and try again later.
      this.log.warn({ err, url: this.o.url }, 'cannot dial the operator; retrying');
      this.retry();
    }
  }

  private open(headers: Record<string, string>): void {
    const secure = this.o.url.startsWith('wss:');
    const ws = new WebSocket(this.o.url, {
      headers,
      maxPayload: PROTOCOL_LIMITS.maxMessageBytes,
      handshakeTimeout: 10_000,
      perMessageDeflate: false,
      // An all-zero masking key: ws then skips masking, which in JavaScript (no bufferutil addon) cost
      // ~20,000 instructions per profiled request's record, 3.5% of a small request (measured with
      // `npm run bench:agent:instructions`). Masking protects intermediaries from payloads a browser
      // script chose; the agent is not a browser and its payloads are its own.
      generateMask: (mask: Buffer) => mask.fill(0),
      createConnection: ((opts: Record<string, unknown>) => {
        const socket = secure
          ? tls.connect({ ...opts, path: undefined, ...(this.o.ca === undefined ? {} : { ca: this.o.ca }), servername: (opts.servername as string | undefined) ?? (net.isIP(String(opts.host)) ? '' : String(opts.host)) } as tls.ConnectionOptions)
          : net.connect({ ...opts, path: opts.socketPath } as net.NetConnectOpts);
        socket.unref();
        return socket;
      }) as unknown as WebSocket.ClientOptions['createConnection'],
    });
    this.ws = ws;
    // Always listen for errors: an unhandled 'error' event would crash the app.
    ws.on('error', (err) => this.log.debug({ err }, 'socket error'));
    ws.on('open', () => {
      this.log.info({ url: this.o.url }, 'connected');
      this.touch();
      this.safely(() => this.o.onOpen());
    });
    ws.on('ping', () => this.touch());
    ws.on('message', (data, isBinary) => {
      this.touch();
      if (isBinary) return;
      this.safely(() => this.o.onMessage(data.toString()));
    });
    ws.on('close', (code, reason) => {
      if (this.ws === ws) this.ws = undefined;
      if (this.silenceTimer) this.o.clock.clearTimeout(this.silenceTimer);
      const why = reason.toString();
      if (this.healthy) {
        this.healthy = false;
        this.lostHealthyAt = this.o.clock.now();
      }
      this.log.info({ code, reason: why }, 'disconnected');
      this.safely(() => this.o.onClose(code, why));
      this.retry();
    });
  }

  private retry(): void {
    if (this.stopped) return;
    const since = this.lostHealthyAt === undefined ? undefined : this.o.clock.now() - this.lostHealthyAt;
    const delay = backoffDelay(this.attempt++, this.o.backoff ?? DEFAULT_BACKOFF, this.o.random, since);
    this.retryTimer = this.o.clock.setTimeout(() => {
      this.dial().catch((err: unknown) => this.log.error({ err }, 'dial failed'));
    }, delay);
  }

  /** Heard from the operator: restart the silence countdown. */
  private touch(): void {
    if (this.silenceTimer) this.o.clock.clearTimeout(this.silenceTimer);
    const ws = this.ws;
    if (!ws) return;
    this.silenceTimer = this.o.clock.setTimeout(() => {
      this.log.warn({ heartbeatMs: this.heartbeatMs }, 'operator silent for three heartbeats; reconnecting');
      ws.terminate();
    }, 3 * this.heartbeatMs);
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err }, 'connection handler failed');
    }
  }
}
