import type { FastifyError, FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ERRORS, type ErrorCode, SondeError } from '../../src/errors.js';
import type { SpecProblem } from '../../src/session/validate.js';

/** The one error body of the REST API (docs/api.md). */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; problems?: SpecProblem[] };
}

/** A SondeError that also carries the field-by-field problems of a spec or body. */
export class ProblemsError extends SondeError {
  constructor(
    code: ErrorCode,
    readonly problems: SpecProblem[],
    detail?: string,
  ) {
    super(code, detail);
  }
}

/** Maps fastify's own errors (bad JSON, body too large, schema validation) onto registry codes. */
function fromFastify(err: FastifyError): { code: ErrorCode; message: string; problems?: SpecProblem[] } | undefined {
  if (err.validation) {
    const problems = err.validation.map((v) => ({
      field: `${err.validationContext ?? 'body'}${v.instancePath.replaceAll('/', '.')}`,
      message: v.message ?? 'is invalid',
    }));
    // A query string is not a body: its own code, so a GET with no body never hears about one.
    const code = err.validationContext === 'querystring' ? 'SONDE_INVALID_QUERY' : 'SONDE_INVALID_BODY';
    return { code, message: `${ERRORS[code].message}: ${err.message}`, problems };
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { code: 'SONDE_BODY_TOO_LARGE', message: ERRORS.SONDE_BODY_TOO_LARGE.message };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { code: 'SONDE_UNSUPPORTED_MEDIA_TYPE', message: ERRORS.SONDE_UNSUPPORTED_MEDIA_TYPE.message };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { code: 'SONDE_INVALID_BODY', message: `${ERRORS.SONDE_INVALID_BODY.message}: ${err.message}` };
  }
  // JSON.parse errors surface as a SyntaxError with statusCode 400.
  if (err instanceof SyntaxError || err.statusCode === 400) return { code: 'SONDE_INVALID_BODY', message: `${ERRORS.SONDE_INVALID_BODY.message}: ${err.message}` };
  return undefined;
}

/**
 * Installs the error and not-found handlers, so every failure — ours, fastify's validation and
 * parsing, an unknown route — answers `{error: {code, message, problems?}}` with the registry's status.
 */
export function installErrorHandlers(app: FastifyInstance, log: Logger): void {
  app.setErrorHandler((err: FastifyError | SondeError, req, reply) => {
    let status: number;
    let body: ErrorBody;
    if (err instanceof SondeError) {
      status = err.http;
      body = { error: { code: err.code, message: err.message } };
      if (err instanceof ProblemsError) body.error.problems = err.problems;
    } else {
      const mapped = fromFastify(err);
      if (mapped) {
        status = ERRORS[mapped.code].http;
        body = { error: mapped };
      } else {
        // Unknown: log it whole, tell the client only that it was ours.
        log.error({ err, method: req.method, url: req.url }, 'request failed');
        status = 500;
        body = { error: { code: 'SONDE_INTERNAL', message: ERRORS.SONDE_INTERNAL.message } };
      }
    }
    if (status >= 500 && err instanceof SondeError) log.error({ err, url: req.url }, 'request failed');
    void reply.code(status).type('application/json; charset=utf-8').send(body);
  });

  app.setNotFoundHandler((req, reply) => {
    const body: ErrorBody = { error: { code: 'SONDE_NOT_FOUND', message: `${ERRORS.SONDE_NOT_FOUND.message}: no route ${req.method} ${req.url.split('?')[0]}` } };
    void reply.code(404).type('application/json; charset=utf-8').send(body);
  });
}
