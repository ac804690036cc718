import { readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute, sep } from 'node:path';
import { credentialRefusal, MAX_CA_BYTES, MAX_URL_LENGTH, parseCaBundle } from './connection/transport-security.js';
import { LOG_LEVELS, type LogLevel } from './log.js';
import type { PodIdentity } from '../src/protocol/messages.js';
import { PROTOCOL_LIMITS } from '../src/protocol/messages.js';
import { isLabelKey, isLabelValue, LABEL_KEY_RULE } from '../src/session/labels.js';

/** Everything the agent is told from outside; `readAgentConfig` fills it from the environment. */
export interface AgentConfig {
  /** Operator WebSocket URL, e.g. `ws://sonde.sonde-system:7070/v1/agents`. No URL: local sessions only. */
  url?: string;
  /** A fixed bearer token (standalone). */
  token?: string;
  /** A file holding the token, re-read on every dial because projected tokens rotate. */
  tokenFile?: string;
  /** PEM certificates the agent trusts on `wss://` instead of the system's (`SONDE_CA_CERT` or `SONDE_CA_FILE`). */
  ca?: string;
  pod: PodIdentity;
  /** Labels sessions select on outside Kubernetes. */
  labels: Record<string, string>;
  logLevel: LogLevel;
  /** `SONDE_V8_BUG_WORKAROUND=1`: see AgentOptions.v8BugWorkaround. */
  v8BugWorkaround?: boolean;
  /** `SONDE_SAMPLER`: see AgentOptions.sampler. */
  sampler?: 'auto' | 'interrupt' | 'v8';
  /** `SONDE_APP_ROOT`: see AgentOptions.appRoot. */
  appRoot?: string;
}

/** A configuration problem, reported with the variable that caused it. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads a file the configuration names (`SONDE_CA_FILE`); injected so tests need no files. */
export type ReadText = (path: string) => string;

/**
 * Reads the agent's environment once. Pure apart from `hostname()` as the default pod name and the
 * CA file it is told to read: pass the environment in, get a checked config out, or a ConfigError
 * naming the variable.
 */
export function readAgentConfig(env: Record<string, string | undefined>, readText: ReadText = readBounded): AgentConfig {
  const url = nonEmpty(env.SONDE_URL);
  if (url !== undefined) checkUrl(url);
  const level = (nonEmpty(env.SONDE_LOG_LEVEL) ?? 'warn').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new ConfigError(`SONDE_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
  const config: AgentConfig = {
    pod: {
      name: nonEmpty(env.POD_NAME) ?? hostname(),
      namespace: nonEmpty(env.POD_NAMESPACE) ?? 'default',
      uid: nonEmpty(env.POD_UID) ?? '',
    },
    labels: parseLabels(env.SONDE_LABELS ?? ''),
    logLevel: level as LogLevel,
  };
  if (url !== undefined) config.url = url;
  const token = nonEmpty(env.SONDE_TOKEN);
  if (token !== undefined) config.token = token;
  const tokenFile = nonEmpty(env.SONDE_TOKEN_FILE);
  if (tokenFile !== undefined) config.tokenFile = tokenFile;
  const refusal = url === undefined ? undefined : credentialRefusal(url, tokenFile);
  if (refusal !== undefined) throw new ConfigError(refusal);
  const ca = readCa(env, readText);
  if (ca !== undefined) config.ca = ca;
  const workaround = nonEmpty(env.SONDE_V8_BUG_WORKAROUND)?.toLowerCase();
  if (workaround !== undefined) {
    if (!['1', 'true', '0', 'false'].includes(workaround)) throw new ConfigError(`SONDE_V8_BUG_WORKAROUND must be 1, true, 0 or false, got ${JSON.stringify(workaround)}`);
    config.v8BugWorkaround = workaround === '1' || workaround === 'true';
  }
  const sampler = nonEmpty(env.SONDE_SAMPLER)?.toLowerCase();
  if (sampler !== undefined) {
    if (sampler !== 'auto' && sampler !== 'interrupt' && sampler !== 'v8') throw new ConfigError(`SONDE_SAMPLER must be auto, interrupt or v8, got ${JSON.stringify(sampler)}`);
    config.sampler = sampler;
  }
  const appRoot = nonEmpty(env.SONDE_APP_ROOT);
  if (appRoot !== undefined) config.appRoot = checkAppRoot(appRoot);
  return config;
}

/** SONDE_APP_ROOT: an absolute directory path the operator accepts (hello `agent.root`: ≤ 4096 characters, no NUL). */
function checkAppRoot(root: string): string {
  if (root.length > PROTOCOL_LIMITS.maxStringLength) throw new ConfigError(`SONDE_APP_ROOT is longer than ${PROTOCOL_LIMITS.maxStringLength} characters`);
  if (root.includes('\0')) throw new ConfigError('SONDE_APP_ROOT must not contain NUL');
  if (!isAbsolute(root)) throw new ConfigError(`SONDE_APP_ROOT must be an absolute path, got ${JSON.stringify(root.slice(0, 64))}`);
  return root.length > 1 && root.endsWith(sep) ? root.slice(0, -1) : root;
}

/** Reads a small text file; a file past MAX_CA_BYTES is refused before it is read. */
function readBounded(path: string): string {
  if (statSync(path).size > MAX_CA_BYTES) throw new Error(`is larger than ${MAX_CA_BYTES / 1024} KiB`);
  return readFileSync(path, 'utf8');
}

/** SONDE_URL: a ws:// or wss:// URL with a host, no credentials in it, of bounded length. */
function checkUrl(url: string): void {
  if (url.length > MAX_URL_LENGTH) throw new ConfigError(`SONDE_URL is longer than ${MAX_URL_LENGTH} characters`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`SONDE_URL must be a ws:// or wss:// URL, got ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') throw new ConfigError(`SONDE_URL must be a ws:// or wss:// URL, got ${JSON.stringify(url)}`);
  if (parsed.hostname === '') throw new ConfigError(`SONDE_URL has no host: ${JSON.stringify(url)}`);
  if (parsed.username !== '' || parsed.password !== '') throw new ConfigError('SONDE_URL must not carry credentials (user:password@); use SONDE_TOKEN or SONDE_TOKEN_FILE');
}

/** The CA to trust on wss://: SONDE_CA_CERT (PEM text, as the webhook injects it) or SONDE_CA_FILE, not both. */
function readCa(env: Record<string, string | undefined>, readText: ReadText): string | undefined {
  const text = nonEmpty(env.SONDE_CA_CERT);
  const file = nonEmpty(env.SONDE_CA_FILE);
  if (text !== undefined && file !== undefined) throw new ConfigError('set SONDE_CA_CERT or SONDE_CA_FILE, not both');
  if (text !== undefined) {
    try {
      return parseCaBundle(text).join('\n') + '\n';
    } catch (err) {
      throw new ConfigError(`SONDE_CA_CERT ${(err as Error).message}`);
    }
  }
  if (file === undefined) return undefined;
  let pem: string;
  try {
    pem = readText(file);
  } catch (err) {
    throw new ConfigError(`SONDE_CA_FILE ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return parseCaBundle(pem).join('\n') + '\n';
  } catch (err) {
    throw new ConfigError(`SONDE_CA_FILE ${file} ${(err as Error).message}`);
  }
}

/** Parses `k=v,k=v` (Kubernetes label syntax) as `SONDE_LABELS` carries it. */
export function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new ConfigError(`SONDE_LABELS: "${shown(part)}" is not key=value`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (!isLabelKey(key)) throw new ConfigError(`SONDE_LABELS: "${shown(key)}" is not a valid label key: ${LABEL_KEY_RULE}`);
    if (!isLabelValue(value)) throw new ConfigError(`SONDE_LABELS: "${shown(value)}" is not a valid label value for ${key}`);
    labels[key] = value;
  }
  if (Object.keys(labels).length > PROTOCOL_LIMITS.maxLabels) throw new ConfigError(`SONDE_LABELS: at most ${PROTOCOL_LIMITS.maxLabels} labels`);
  return labels;
}

/** Text as an error message quotes it: a long one by its first 80 characters and its length (as the Python agent's config.py). */
function shown(text: string): string {
  return text.length <= 80 ? text : `${text.slice(0, 80)}… (${text.length} characters)`;
}

function nonEmpty(v: string | undefined): string | undefined {
  const t = v?.trim();
  return t ? t : undefined;
}
