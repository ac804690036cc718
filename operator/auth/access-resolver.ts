import { createHash, timingSafeEqual } from 'node:crypto';
import { SondeError } from '../../src/errors.js';
import { type Access, fullAccess } from './access.js';
import { bearerToken } from './bearer.js';

import type { AuthMode } from '../config.js';

export type { AuthMode };

/** What a request is for: the REST API, or `/metrics` (which Kubernetes authorises as a non-resource URL). */
export type AccessPurpose = 'api' | 'metrics';

/** Turns a request's credentials into an Access, or throws a SondeError (401, 403, 503). */
export interface AccessResolver {
  readonly mode: AuthMode;
  resolve(authorization: string | string[] | undefined, purpose: AccessPurpose): Promise<Access>;
}

/**
 * `--auth none`: everyone may do everything (writes in standalone). The config allows it only on a
 * loopback host, and the `--local-port` listener (reached through `kubectl port-forward`) uses it.
 */
export function noAuth(write: boolean, user = 'anonymous'): AccessResolver {
  const access = fullAccess(user, write);
  return { mode: 'none', resolve: async () => access };
}

/**
 * `--auth token` (standalone): the shared SONDE_TOKEN, the same one agents present, as a bearer token;
 * its holder may read and write everything. Compared as digests in constant time.
 */
export function sharedTokenAuth(token: string): AccessResolver {
  const expected = digest(token);
  const access = fullAccess('token', true);
  return {
    mode: 'token',
    async resolve(header) {
      if (header === undefined) throw new SondeError('SONDE_AUTH_REQUIRED', 'send the operator\'s SONDE_TOKEN as Authorization: Bearer <token>');
      const presented = bearerToken(header);
      if (presented === undefined || !timingSafeEqual(digest(presented), expected)) throw new SondeError('SONDE_TOKEN_REFUSED', 'it is not this operator\'s SONDE_TOKEN');
      return access;
    },
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
