import { createHash, timingSafeEqual } from 'node:crypto';
import type { AgentAuthenticator, AuthResult } from '../engine/contracts.js';
import type { PodIdentity } from '../../src/protocol/messages.js';

/**
 * Standalone agents prove themselves with one shared token (SONDE_TOKEN on both sides) and are taken
 * at their word about which pod they are. With no token configured every agent is accepted: the
 * config validator allows that only when the operator listens on a loopback address, so only
 * processes on this machine can connect.
 */
export function sharedTokenAuthenticator(token: string | undefined): AgentAuthenticator {
  // Compare digests, not the strings: equal lengths for timingSafeEqual, and no length leak.
  const expected = token === undefined ? undefined : digest(token);
  const matches = (presented: string | undefined): boolean => presented !== undefined && presented !== '' && timingSafeEqual(digest(presented), expected!);
  return {
    // The whole check is synchronous here, so a wrong token never gets a WebSocket.
    precheck: (presented) => expected === undefined || matches(presented),
    async authenticate(presented: string | undefined, claimed: PodIdentity): Promise<AuthResult> {
      if (expected === undefined) return { ok: true, pod: claimed };
      if (presented === undefined || presented === '') return { ok: false, code: 'SONDE_UNAUTHENTICATED', message: 'this operator needs a token: set SONDE_TOKEN on the agent' };
      if (!timingSafeEqual(digest(presented), expected)) return { ok: false, code: 'SONDE_UNAUTHENTICATED', message: 'the token does not match the operator\'s SONDE_TOKEN' };
      return { ok: true, pod: claimed };
    },
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
