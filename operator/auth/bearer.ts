/** Longest Authorization header accepted: service-account JWTs are 1–2 KB; OIDC tokens rarely pass 4 KB. */
export const MAX_BEARER_BYTES = 16 * 1024;

/**
 * The token of an `Authorization: Bearer <token>` header; undefined when absent, malformed or oversized
 * (an oversized or malformed header is treated as no credential at all, so it is never sent on to a review).
 */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string' || header.length > MAX_BEARER_BYTES) return undefined;
  const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  return m ? m[1] : undefined;
}
