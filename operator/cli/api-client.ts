import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ApiError, type ApiProblem, UnreachableError } from './cli-errors.js';
import type { Connection } from './connection.js';

/** The largest JSON answer the CLI reads (a session list or view is far smaller). */
export const MAX_JSON_BYTES = 32 * 1024 * 1024;

/** A response whose body the caller streams (exports). */
export interface StreamedResponse {
  status: number;
  headers: IncomingMessage['headers'];
  body: IncomingMessage;
}

/**
 * A small client of the operator's REST API (docs/api.md) over node:http/https, so `--ca` can name
 * the CA to trust (fetch cannot). Every call has a deadline; JSON answers are bounded; error answers
 * become ApiError with the registry code, message and problems the operator sent.
 */
export class ApiClient {
  constructor(private readonly conn: Connection) {}

  /** The API path under the base URL (which may carry a prefix, behind a proxy). */
  private url(path: string): URL {
    const u = new URL(this.conn.base.href);
    const [p, q] = path.split('?', 2) as [string, string | undefined];
    u.pathname = `${this.conn.base.pathname.replace(/\/+$/, '')}${p}`;
    if (q !== undefined) u.search = `?${q}`;
    return u;
  }

  /** Sends a request; resolves with the response once its headers arrive. */
  open(method: string, path: string, body?: unknown): Promise<StreamedResponse> {
    const url = this.url(path);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const headers: Record<string, string> = { accept: 'application/json, */*' };
    if (this.conn.token !== undefined) headers.authorization = `Bearer ${this.conn.token}`;
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, { method, headers, timeout: this.conn.timeoutMs, ...(this.conn.ca !== undefined ? { ca: this.conn.ca } : {}) }, (res) => {
        res.setTimeout(this.conn.timeoutMs, () => res.destroy(new UnreachableError(`${method} ${url.href}: no data for ${this.conn.timeoutMs} ms`)));
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res });
      });
      req.on('timeout', () => req.destroy(new UnreachableError(`${method} ${url.href}: no answer within ${this.conn.timeoutMs} ms`)));
      req.on('error', (e) => reject(e instanceof UnreachableError ? e : new UnreachableError(describeNetworkError(url, e as NodeJS.ErrnoException))));
      req.end(payload);
    });
  }

  /** A JSON call: resolves with the parsed 2xx body (undefined for 204), rejects with ApiError otherwise. */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.open(method, path, body);
    if (res.status === 204) {
      res.body.resume();
      return undefined as T;
    }
    const text = (await readBounded(res.body, MAX_JSON_BYTES)).toString('utf8');
    if (res.status < 200 || res.status >= 300) throw toApiError(res.status, text);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(res.status, 'SONDE_CLI_BAD_RESPONSE', `the operator answered ${method} ${path} with something that is not JSON: ${JSON.stringify(text.slice(0, 120))}`);
    }
  }
}

/** The body of a response, refused past `limit` bytes. */
export function readBounded(body: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        body.destroy();
        reject(new UnreachableError(`the answer is larger than ${limit} bytes; refused`));
        return;
      }
      chunks.push(c);
    });
    body.on('end', () => resolve(Buffer.concat(chunks)));
    body.on('error', (e) => reject(e instanceof UnreachableError ? e : new UnreachableError(`the answer broke off: ${e.message}`)));
  });
}

/** An error answer as ApiError: the operator's `{error: {code, message, problems}}`, else the status. */
export function toApiError(status: number, text: string): ApiError {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; problems?: unknown } };
    const e = parsed.error;
    if (e && typeof e.code === 'string' && typeof e.message === 'string') {
      const problems: ApiProblem[] = Array.isArray(e.problems)
        ? (e.problems as unknown[])
            .filter((p): p is ApiProblem => !!p && typeof (p as ApiProblem).field === 'string' && typeof (p as ApiProblem).message === 'string')
            .slice(0, 100)
            .map((p) => ({ field: clean(p.field), message: clean(p.message) }))
        : [];
      return new ApiError(status, clean(e.code), clean(e.message), problems);
    }
  } catch {
    /* not the operator's shape: fall through */
  }
  return new ApiError(status, `HTTP_${status}`, `the server answered ${status} without a Sonde error (is --url a Sonde operator?): ${JSON.stringify(clean(text.slice(0, 200)))}`);
}

/** Text from the server, made safe for a terminal: no control characters (escape sequences), bounded. */
export function clean(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').slice(0, 2000);
}

function describeNetworkError(url: URL, e: NodeJS.ErrnoException): string {
  const where = url.origin;
  switch (e.code) {
    case 'ECONNREFUSED':
      return `cannot reach the operator at ${where}: connection refused (is \`sonde operator\` running there? set --url or SONDE_OPERATOR_URL)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot reach the operator at ${where}: no such host ${url.hostname}`;
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return `cannot trust ${where}: ${e.message} (pass the operator's CA with --ca FILE)`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `cannot trust ${where}: its certificate does not name ${url.hostname} (${e.message})`;
    case 'EPROTO':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      // OpenSSL's text ("wrong version number" and a source path) helps nobody: say what it means.
      return `cannot talk to ${where}: the port does not answer TLS (a plain-http operator? use http://)`;
    case 'ECONNRESET':
    case 'HPE_INVALID_CONSTANT':
      return `cannot talk to ${where}: the connection was reset (${e.code}); an https operator asked over http? use https:// and --ca`;
    default:
      return `cannot reach the operator at ${where}: ${e.message}`;
  }
}
