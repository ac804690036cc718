import { readFileSync, statSync } from 'node:fs';
import { parseDuration } from '../../src/session/duration.js';
import { UsageError } from './cli-errors.js';

/** Where and how the REST commands reach the operator. */
export interface Connection {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:7070` (a path prefix is kept). */
  base: URL;
  /** Bearer token, when one was given. */
  token?: string;
  /** PEM of the CA to trust for https (instead of the system's). */
  ca?: string;
  timeoutMs: number;
  /** Where the token came from, for messages (`--token`, `SONDE_API_TOKEN`, a file…). */
  tokenSource?: string;
}

/** The parseArgs options every REST command shares. */
export const CONNECTION_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  ca: { type: 'string' },
  timeout: { type: 'string' },
} as const;

/** The help lines for those options (one place, so every command says the same). */
export const CONNECTION_HELP = `Connection (every REST command):
  --url URL          the operator's API (default http://127.0.0.1:7070)               [SONDE_OPERATOR_URL]
  --token TOKEN      bearer token: the operator's SONDE_TOKEN (--auth token) or a Kubernetes
                     token (--auth kubernetes, e.g. "$(kubectl create token NAME)")   [SONDE_API_TOKEN]
  --token-file FILE  read the token from FILE instead                                 [SONDE_API_TOKEN_FILE]
                     (without any of these, SONDE_TOKEN is used when set)
  --ca FILE          PEM CA certificate to trust for an https URL                      [SONDE_API_CA]
  --timeout D        give up on a request after D (default 30s; e.g. 5s, 2m)`;

const DEFAULT_URL = 'http://127.0.0.1:7070';
const MAX_TOKEN = 16 * 1024;
const MAX_FILE = 64 * 1024;
// RFC 6750 b64token: what a bearer token may contain. Anything else (spaces, newlines) would break
// or forge the Authorization header.
const TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

type Values = { url?: string; token?: string; 'token-file'?: string; ca?: string; timeout?: string };

function readSmallFile(path: string, flag: string): string {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new UsageError([`${flag} ${path}: not a regular file`]);
    size = st.size;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError([`${flag} ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`]);
  }
  if (size > MAX_FILE) throw new UsageError([`${flag} ${path}: ${size} bytes, more than the ${MAX_FILE} a token or CA file may have`]);
  return readFileSync(path, 'utf8');
}

/** The connection from flags, then environment, then defaults; every problem at once. */
export function resolveConnection(v: Values, env: NodeJS.ProcessEnv): Connection {
  const problems: string[] = [];
  const rawUrl = v.url ?? env.SONDE_OPERATOR_URL ?? DEFAULT_URL;
  const urlFlag = v.url !== undefined ? '--url' : env.SONDE_OPERATOR_URL !== undefined ? 'SONDE_OPERATOR_URL' : 'the default URL';
  let base: URL | undefined;
  try {
    base = new URL(rawUrl);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') problems.push(`${urlFlag} must be an http:// or https:// URL, got ${JSON.stringify(rawUrl)}`);
    else if (base.username || base.password) problems.push(`${urlFlag} must not carry credentials; use --token`);
    else if (base.search || base.hash) problems.push(`${urlFlag} must not have a query or fragment, got ${JSON.stringify(rawUrl)}`);
    base.pathname = base.pathname.replace(/\/+$/, '');
  } catch {
    problems.push(`${urlFlag} is not a URL: ${JSON.stringify(rawUrl)}`);
  }

  let token: string | undefined;
  let tokenSource: string | undefined;
  const pick = (value: string | undefined, source: string): void => {
    if (token === undefined && tokenSource === undefined && value !== undefined) {
      token = value.trim();
      tokenSource = source;
    }
  };
  if (v.token !== undefined && v['token-file'] !== undefined) problems.push('give --token or --token-file, not both');
  pick(v.token, '--token');
  if (v['token-file'] !== undefined) {
    try {
      pick(readSmallFile(v['token-file'], '--token-file'), `--token-file ${v['token-file']}`);
    } catch (e) {
      problems.push(...(e as UsageError).problems);
      tokenSource = '--token-file';
    }
  }
  pick(env.SONDE_API_TOKEN, 'SONDE_API_TOKEN');
  if (env.SONDE_API_TOKEN_FILE !== undefined && tokenSource === undefined) {
    try {
      pick(readSmallFile(env.SONDE_API_TOKEN_FILE, 'SONDE_API_TOKEN_FILE'), `SONDE_API_TOKEN_FILE ${env.SONDE_API_TOKEN_FILE}`);
    } catch (e) {
      problems.push(...(e as UsageError).problems);
      tokenSource = 'SONDE_API_TOKEN_FILE';
    }
  }
  pick(env.SONDE_TOKEN, 'SONDE_TOKEN');
  if (token !== undefined) {
    if (token.length === 0) problems.push(`${tokenSource}: the token is empty`);
    else if (token.length > MAX_TOKEN) problems.push(`${tokenSource}: the token is longer than ${MAX_TOKEN} characters`);
    else if (!TOKEN.test(token)) problems.push(`${tokenSource}: the token has characters a bearer token cannot have (spaces, line breaks or control characters)`);
  }

  let ca: string | undefined;
  const caPath = v.ca ?? env.SONDE_API_CA;
  if (caPath !== undefined) {
    const flag = v.ca !== undefined ? '--ca' : 'SONDE_API_CA';
    try {
      ca = readSmallFile(caPath, flag);
      if (!ca.includes('-----BEGIN CERTIFICATE-----')) problems.push(`${flag} ${caPath}: not a PEM certificate`);
    } catch (e) {
      problems.push(...(e as UsageError).problems);
    }
    if (base && base.protocol !== 'https:') problems.push(`${flag} is for an https URL; ${base.origin} is plain http`);
  }

  let timeoutMs = 30_000;
  if (v.timeout !== undefined) {
    try {
      timeoutMs = parseDuration(v.timeout);
      if (timeoutMs < 100 || timeoutMs > 3_600_000) problems.push(`--timeout must be between 100ms and 1h, got ${JSON.stringify(v.timeout)}`);
    } catch (e) {
      problems.push(`--timeout: ${(e as Error).message}`);
    }
  }
  if (problems.length || !base) throw new UsageError(problems);
  return { base, timeoutMs, ...(token !== undefined ? { token } : {}), ...(tokenSource !== undefined && token !== undefined ? { tokenSource } : {}), ...(ca !== undefined ? { ca } : {}) };
}

/** True when the URL's host is this machine (where a plain-http token cannot be overheard). */
export function isLoopback(url: URL): boolean {
  const h = url.hostname.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}
