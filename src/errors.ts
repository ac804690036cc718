/**
 * One registry of Sonde's errors: a stable code, an HTTP status for the REST API and a WebSocket close
 * code for the agent hub. A code, once used, is never reused or renumbered: agents and scripts match on
 * it. Close codes 4000–4999 are the application range of RFC 6455.
 */
export const ERRORS = Object.freeze({
  // Spec and API input
  SONDE_INVALID_SPEC: { http: 400, ws: 4400, message: 'The session spec is invalid' },
  SONDE_INVALID_BODY: { http: 400, ws: 4400, message: 'The request body is invalid' },
  // cliops: query parameters are not a body (GET requests have none)
  SONDE_INVALID_QUERY: { http: 400, ws: 4400, message: 'The query parameters are invalid' },
  SONDE_NOT_FOUND: { http: 404, ws: 4404, message: 'No such object' },
  SONDE_CONFLICT: { http: 409, ws: 4409, message: 'The object already exists' },
  SONDE_NOT_STANDALONE: { http: 405, ws: 4405, message: 'In a cluster, sessions are ProfilingSession objects: use kubectl apply' },
  SONDE_TREE_TOO_LARGE: { http: 413, ws: 1009, message: 'The payload is too large' },
  SONDE_UNSUPPORTED_FORMAT: { http: 400, ws: 4400, message: 'Unsupported export format' },
  SONDE_BODY_TOO_LARGE: { http: 413, ws: 1009, message: 'The request body is too large' },
  SONDE_UNSUPPORTED_MEDIA_TYPE: { http: 415, ws: 4400, message: 'Send the body as application/json' },
  // Agent protocol
  SONDE_BAD_MESSAGE: { http: 400, ws: 4001, message: 'The message is malformed' },
  SONDE_BAD_PROTOCOL: { http: 400, ws: 4002, message: 'Unsupported protocol version' },
  SONDE_UNAUTHENTICATED: { http: 401, ws: 4003, message: 'The agent token was refused' },
  SONDE_FORGED_IDENTITY: { http: 403, ws: 4004, message: 'The agent claims a pod its token was not issued for' },
  SONDE_HELLO_REQUIRED: { http: 400, ws: 4005, message: 'The first message must be hello' },
  SONDE_HEARTBEAT_MISSED: { http: 408, ws: 4006, message: 'No pong within the heartbeat interval' },
  SONDE_OUT_OF_ORDER: { http: 400, ws: 4007, message: 'The message refers to a session this agent was not asked to run' },
  SONDE_REPLACED: { http: 409, ws: 4008, message: 'A newer connection for the same pod replaced this one' },
  SONDE_SHUTTING_DOWN: { http: 503, ws: 1001, message: 'The operator is shutting down' },
  // Limits and storage (bounds): a connection past its budget, a store that cannot write
  SONDE_RATE_LIMITED: { http: 429, ws: 4029, message: 'The agent sent more messages or bytes per second than allowed' },
  SONDE_TOO_MANY_REQUESTS: { http: 429, ws: 4030, message: 'The agent reported more requests for a session than it was asked for' },
  SONDE_TOO_MANY_CONNECTIONS: { http: 503, ws: 1013, message: 'Too many connections are open or waiting; try again later' },
  SONDE_STORE_FULL: { http: 507, ws: 1011, message: 'The store cannot write: the disk is full or the database is read-only' },
  // People's access to the REST API and UI (apiauth)
  SONDE_AUTH_REQUIRED: { http: 401, ws: 4040, message: 'This API needs a bearer token (Authorization: Bearer …)' },
  SONDE_TOKEN_REFUSED: { http: 401, ws: 4041, message: 'The bearer token was refused' },
  SONDE_FORBIDDEN: { http: 403, ws: 4042, message: 'Not allowed' },
  SONDE_FOREIGN_HOST: { http: 421, ws: 4043, message: 'This server does not answer for that host name' },
  SONDE_CROSS_ORIGIN: { http: 403, ws: 4044, message: 'Requests from another origin are refused' },
  SONDE_AUTH_UNAVAILABLE: { http: 503, ws: 1013, message: 'Credentials cannot be checked right now; try again' },
  // Agent-side
  SONDE_SAMPLER_FAILED: { http: 500, ws: 4500, message: 'The sampler could not start' },
  SONDE_INTERNAL: { http: 500, ws: 1011, message: 'Internal error' },
});

export type ErrorCode = keyof typeof ERRORS;

/** An error that carries a registry code, so every layer reports it the same way. */
export class SondeError extends Error {
  readonly code: ErrorCode;
  readonly http: number;
  readonly wsCode: number;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail ? `${ERRORS[code].message}: ${detail}` : ERRORS[code].message, options);
    this.name = 'SondeError';
    this.code = code;
    this.http = ERRORS[code].http;
    this.wsCode = ERRORS[code].ws;
  }
}

/** WebSocket close reasons are limited to 123 bytes; cut on a character boundary. */
export function closeReason(text: string): string {
  const enc = new TextEncoder();
  if (enc.encode(text).length <= 123) return text;
  let out = text;
  while (enc.encode(out + '…').length > 123) out = out.slice(0, -1);
  return out + '…';
}
