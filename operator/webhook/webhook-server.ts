import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { TlsMaterial } from '../tls/tls-material.js';
import { notJson, review, type ReviewOutcome } from './admission.js';
import { WEBHOOK_PATH } from './injection-names.js';
import type { InjectionSettings } from './pod-mutator.js';

/**
 * The admission webhook's HTTPS server: a thin shell around `review`. POST of JSON to `/mutate-v1-pod`
 * only, a bounded body, short timeouts. Every review it can read is answered `allowed: true` (with the
 * problem in `status.message` when the review is malformed); what is not a review at all gets a plain
 * HTTP error, which the API server, with `failurePolicy: Ignore`, also treats as "allow".
 */

export interface WebhookServerOptions {
  port: number;
  host: string;
  tls: TlsMaterial;
  /** Read per request, so a renewed CA reaches pods injected after it. */
  settings: () => InjectionSettings;
  log: Logger;
  /** Largest accepted body (default 4 MiB: the API server's own limit on a pod is 3 MiB). */
  bodyLimitBytes?: number;
  /** Whole-request timeout (default 10 s; the configuration gives the API server's side 5 s). */
  requestTimeoutMs?: number;
  /** Epoch ms, for the log throttle (default Date.now). */
  now?: () => number;
}

/** At most one warning about malformed reviews per this long: anyone who reaches the port could flood the log. */
export const MALFORMED_LOG_EVERY_MS = 10_000;

/** A listening webhook server. */
export interface WebhookServer {
  readonly port: number;
  readonly server: Server;
  /** Serves a renewed certificate to new connections. */
  setTls(tls: TlsMaterial): void;
  close(): Promise<void>;
}

export const DEFAULT_WEBHOOK_BODY_LIMIT = 4 * 1024 * 1024;

/** Starts the webhook server; resolves once it listens. */
export async function startWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  const log = opts.log.child({ module: 'webhook' });
  const limit = opts.bodyLimitBytes ?? DEFAULT_WEBHOOK_BODY_LIMIT;
  const requestTimeout = opts.requestTimeoutMs ?? 10_000;
  const server = createServer(
    // Node checks the timeouts every connectionsCheckingInterval (default 30 s): check each second, so a
    // slow client is cut off near its deadline, not up to half a minute after it.
    { cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2', requestTimeout, headersTimeout: Math.min(5_000, requestTimeout), connectionsCheckingInterval: 1_000 },
    (req, res) => void handle(req, res),
  );
  server.keepAliveTimeout = 30_000; // the API server reuses connections
  server.maxHeadersCount = 100;
  // The API server keeps a few pooled connections per replica; thousands are someone else.
  server.maxConnections = 512;
  server.on('tlsClientError', (err) => log.debug({ err }, 'TLS handshake failed'));

  const now = opts.now ?? Date.now;
  let lastMalformedLog = -Infinity;
  let suppressed = 0;
  const warnMalformed = (fields: Record<string, unknown>): void => {
    if (now() - lastMalformedLog < MALFORMED_LOG_EVERY_MS) {
      suppressed++;
      return;
    }
    lastMalformedLog = now();
    log.warn({ ...fields, ...(suppressed ? { suppressed } : {}) }, 'malformed admission review; allowed unchanged');
    suppressed = 0;
  };

  const plain = (res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
    res.end(`${message}\n`);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const path = (req.url ?? '').split('?')[0];
      if (path !== WEBHOOK_PATH) return plain(res, 404, `not found; the webhook is POST ${WEBHOOK_PATH}`);
      if (req.method !== 'POST') return plain(res, 405, `method ${req.method} not allowed; use POST`, { allow: 'POST' });
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/json') return plain(res, 415, 'send the AdmissionReview as application/json');
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > limit) {
        req.resume();
        return plain(res, 413, `the body is larger than ${limit} bytes`, { connection: 'close' });
      }
      const raw = await readBody(req, limit);
      if (raw === undefined) return plain(res, 413, `the body is larger than ${limit} bytes`, { connection: 'close' });
      let body: unknown;
      let outcome: ReviewOutcome;
      try {
        body = JSON.parse(raw);
        outcome = review(body, opts.settings());
      } catch {
        outcome = notJson();
      }
      const d = outcome.decision;
      const who = whoOf(body, outcome.review.response.uid);
      if (outcome.error) warnMalformed({ ...who, problem: outcome.error });
      else if (d?.kind === 'injected') log.info({ ...who, runtime: d.runtime, container: d.container }, 'agent injected');
      else if (d?.kind === 'skipped') log.info({ ...who, reason: d.reason }, 'injection skipped');
      else log.debug({ ...who, why: d?.why }, 'pod left alone');
      const json = JSON.stringify(outcome.review);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
      res.end(json);
    } catch (err) {
      log.error({ err }, 'the webhook failed to answer');
      if (!res.headersSent) plain(res, 500, 'internal error');
      else res.destroy();
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err }, 'webhook server error'));
  const port = (server.address() as AddressInfo).port;
  log.info({ port, path: WEBHOOK_PATH }, 'admission webhook listening');
  return {
    port,
    server,
    setTls: (tls) => server.setSecureContext({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The pod a review is about, for the log: only short strings (the sender controls them). */
function whoOf(body: unknown, uid: string): Record<string, string> {
  const short = (v: unknown): string | undefined => (typeof v === 'string' && v.length <= 253 ? v : undefined);
  const request = (body as { request?: { namespace?: unknown; name?: unknown; object?: { metadata?: { generateName?: unknown } } } } | null | undefined)?.request;
  const namespace = short(request?.namespace);
  const name = short(request?.name) ?? short(request?.object?.metadata?.generateName);
  return { uid, ...(namespace ? { namespace } : {}), ...(name ? { name } : {}) };
}

/** The body as text, or undefined when it grows past `limit` (the rest is dropped). */
function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        resolve(undefined);
      } else chunks.push(c);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}
