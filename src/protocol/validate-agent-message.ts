import { SondeError } from '../errors.js';
import type { CallTree } from '../model/call-tree.js';
import { type SerializedTree, deserializeTree } from '../model/serialized.js';
import {
  type AgentErrorMessage,
  type AgentMessage,
  type CatalogueMessage,
  type HelloMessage,
  type PodIdentity,
  type ProgressMessage,
  type RequestOutcome,
  type RequestRecord,
  type RequestTypeStats,
  type RequestsMessage,
  type SessionEndReason,
  type SessionEndedMessage,
  PROTOCOL_LIMITS,
  PROTOCOL_VERSION,
} from './messages.js';

/**
 * Checks what an agent sends before the operator acts on it: every field's type, every size and count
 * limit of PROTOCOL_LIMITS, and each request's call tree through `deserializeTree`. The result is a fresh
 * object holding only the fields the protocol knows (unknown fields are dropped, as the protocol says a
 * receiver ignores them), so nothing an agent adds travels further into the operator.
 *
 * Errors are SondeErrors whose message names the offending field: the hub closes the connection with
 * the code's WebSocket close code and that message as the reason.
 */

/** Sessions an agent may claim in hello; far above what one process can run at once. */
const MAX_HELLO_SESSIONS = 256;
const OUTCOMES: readonly RequestOutcome[] = ['ok', 'error', 'aborted'];
const END_REASONS: readonly SessionEndReason[] = ['requests', 'deadline', 'stopped', 'error'];
const RUNTIMES = ['node', 'python'] as const;

/** Parses one text frame (string or UTF-8 bytes) and validates it. Throws SondeError. */
export function parseAgentMessage(data: string | Uint8Array): AgentMessage {
  const size = typeof data === 'string' ? utf8Length(data) : data.byteLength;
  if (size > PROTOCOL_LIMITS.maxMessageBytes) {
    throw new SondeError('SONDE_TREE_TOO_LARGE', `message of ${size} bytes exceeds ${PROTOCOL_LIMITS.maxMessageBytes}`);
  }
  let value: unknown;
  try {
    const text = typeof data === 'string' ? data : new TextDecoder('utf-8', { fatal: true }).decode(data);
    value = JSON.parse(text);
  } catch (err) {
    throw new SondeError('SONDE_BAD_MESSAGE', `not JSON text (${(err as Error).message})`);
  }
  return validateAgentMessage(value);
}

/** Validates an already parsed message. Throws SondeError naming the first problem found. */
export function validateAgentMessage(value: unknown): AgentMessage {
  const m = obj(value, 'message');
  const type = m.type;
  switch (type) {
    case 'hello':
      return hello(m);
    case 'catalogue':
      return { type, entries: catalogue(m.entries, 'entries') } satisfies CatalogueMessage;
    case 'progress':
      return {
        type,
        session: id(m.session, 'session'),
        requests: count(m.requests, 'requests'),
        samples: count(m.samples, 'samples'),
        inFlight: count(m.inFlight, 'inFlight'),
      } satisfies ProgressMessage;
    case 'requests':
      return requests(m);
    case 'ended': {
      const out: SessionEndedMessage = {
        type,
        session: id(m.session, 'session'),
        reason: oneOf(m.reason, END_REASONS, 'reason'),
        requests: count(m.requests, 'requests'),
        samples: count(m.samples, 'samples'),
      };
      if (m.error !== undefined) out.error = str(m.error, 'error');
      return out;
    }
    case 'error': {
      const out: AgentErrorMessage = { type, code: str(m.code, 'code'), message: str(m.message, 'message') };
      if (m.session !== undefined) out.session = id(m.session, 'session');
      return out;
    }
    default:
      throw bad(typeof type === 'string' ? `unknown message type ${JSON.stringify(type.slice(0, 64))}` : 'type must be a string');
  }
}

function hello(m: Record<string, unknown>): HelloMessage {
  if (typeof m.protocol !== 'number' || !Number.isInteger(m.protocol)) throw bad('protocol must be a whole number');
  if (m.protocol !== PROTOCOL_VERSION) {
    throw new SondeError('SONDE_BAD_PROTOCOL', `agent speaks protocol ${m.protocol}, this operator speaks ${PROTOCOL_VERSION}`);
  }
  const p = obj(m.pod, 'pod');
  const pod: PodIdentity = { name: id(p.name, 'pod.name'), namespace: id(p.namespace, 'pod.namespace'), uid: str(p.uid ?? '', 'pod.uid') };
  const a = obj(m.agent, 'agent');
  const agent: HelloMessage['agent'] = {
    runtime: oneOf(a.runtime, RUNTIMES, 'agent.runtime'),
    runtimeVersion: str(a.runtimeVersion, 'agent.runtimeVersion'),
    agentVersion: str(a.agentVersion, 'agent.agentVersion'),
    pid: count(a.pid, 'agent.pid'),
  };
  // Added in Sonde 0.3 (optional): the process's incarnation, so a restarted process reusing a pid is told apart.
  if (a.instance !== undefined) agent.instance = id(a.instance, 'agent.instance');
  // Added in Sonde 0.4 (optional): the application's root, so views show paths relative to it.
  if (a.root !== undefined) agent.root = appRoot(a.root, 'agent.root');
  const rawSessions = list(m.sessions ?? [], 'sessions', MAX_HELLO_SESSIONS);
  const sessions = rawSessions.map((s, i) => {
    const o = obj(s, `sessions[${i}]`);
    return { session: id(o.session, `sessions[${i}].session`), requests: count(o.requests, `sessions[${i}].requests`) };
  });
  const out: HelloMessage = { type: 'hello', protocol: m.protocol, pod, labels: labels(m.labels ?? {}), agent, catalogue: catalogue(m.catalogue ?? [], 'catalogue'), sessions };
  // Added in Sonde 0.2 (optional): ended sessions the agent still holds results for, and acknowledgements.
  if (m.ended !== undefined) out.ended = list(m.ended, 'ended', MAX_HELLO_SESSIONS).map((s, i) => id(s, `ended[${i}]`));
  if (m.acks !== undefined) {
    if (typeof m.acks !== 'boolean') throw bad('acks must be true or false');
    out.acks = m.acks;
  }
  // Added in Sonde 0.4 (optional): the agent honours `limit`.
  if (m.limits !== undefined) {
    if (typeof m.limits !== 'boolean') throw bad('limits must be true or false');
    out.limits = m.limits;
  }
  return out;
}

/** An absolute directory path (POSIX, or a Windows drive path), bounded, without NUL; a trailing separator dropped. */
function appRoot(value: unknown, where: string): string {
  const s = str(value, where);
  if (s.includes('\0')) throw bad(`${where} must not contain NUL`);
  if (!s.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(s)) throw bad(`${where} must be an absolute path, got ${JSON.stringify(s.slice(0, 64))}`);
  return /[^:][\\/]$/.test(s) ? s.slice(0, -1) : s;
}

function requests(m: Record<string, unknown>): RequestsMessage {
  const session = id(m.session, 'session');
  const seq = count(m.seq, 'seq');
  if (seq < 1) throw bad('seq must start at 1');
  const raw = list(m.requests, 'requests', PROTOCOL_LIMITS.maxRequestsPerMessage);
  return { type: 'requests', session, seq, requests: raw.map((r, i) => record(r, `requests[${i}]`)) };
}

function record(value: unknown, where: string): RequestRecord {
  const r = obj(value, where);
  const out: RequestRecord = {
    id: id(r.id, `${where}.id`),
    type: id(r.type, `${where}.type`),
    startedAt: nonNegative(r.startedAt, `${where}.startedAt`),
    durationMs: nonNegative(r.durationMs, `${where}.durationMs`),
    outcome: oneOf(r.outcome, OUTCOMES, `${where}.outcome`),
    samples: count(r.samples, `${where}.samples`),
    cpuUs: nonNegative(r.cpuUs, `${where}.cpuUs`),
    waitingUs: nonNegative(r.waitingUs, `${where}.waitingUs`),
    blockedUs: nonNegative(r.blockedUs, `${where}.blockedUs`),
    tree: tree(r.tree, `${where}.tree`),
  };
  if (r.status !== undefined && r.status !== null) {
    const status = count(r.status, `${where}.status`);
    if (status < 100 || status > 999) throw bad(`${where}.status must be an HTTP status code`);
    out.status = status;
  }
  return out;
}

/** Trees this module checked, by the copy it returned: later readers (the store) need not check them again. */
const checked = new WeakMap<SerializedTree, CallTree>();

/**
 * The CallTree built while validating this exact SerializedTree object (as returned inside a validated
 * `requests` message), or undefined for any other object. Saves a second deserialization downstream.
 */
export function checkedTree(tree: SerializedTree): CallTree | undefined {
  return checked.get(tree);
}

/** A tree is checked by the model's own reader, then copied so only its known fields remain. */
function tree(value: unknown, where: string): SerializedTree {
  let built: CallTree;
  try {
    built = deserializeTree(value);
  } catch (err) {
    throw bad(`${where}: ${(err as Error).message}`);
  }
  const t = value as SerializedTree;
  for (let i = 0; i < t.strings.length; i++) {
    if (t.strings[i]!.length > PROTOCOL_LIMITS.maxStringLength) throw bad(`${where}.strings[${i}] is longer than ${PROTOCOL_LIMITS.maxStringLength}`);
  }
  const copy: SerializedTree = { version: t.version, strings: t.strings, frames: t.frames, nodes: t.nodes };
  if (t.mapped !== undefined) copy.mapped = t.mapped;
  if (t.starts !== undefined) copy.starts = t.starts;
  checked.set(copy, built);
  return copy;
}

function catalogue(value: unknown, where: string): RequestTypeStats[] {
  return list(value, where, PROTOCOL_LIMITS.maxCatalogueEntries).map((e, i) => {
    const o = obj(e, `${where}[${i}]`);
    const at = `${where}[${i}]`;
    return {
      type: id(o.type, `${at}.type`),
      count: count(o.count, `${at}.count`),
      errors: count(o.errors, `${at}.errors`),
      p50Ms: nonNegative(o.p50Ms, `${at}.p50Ms`),
      p90Ms: nonNegative(o.p90Ms, `${at}.p90Ms`),
      p99Ms: nonNegative(o.p99Ms, `${at}.p99Ms`),
    };
  });
}

function labels(value: unknown): Record<string, string> {
  const o = obj(value, 'labels');
  const keys = Object.keys(o);
  if (keys.length > PROTOCOL_LIMITS.maxLabels) throw bad(`labels has ${keys.length} entries, more than ${PROTOCOL_LIMITS.maxLabels}`);
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const k of keys) {
    str(k, 'labels key');
    out[k] = str(o[k], `labels.${k.slice(0, 64)}`);
  }
  return { ...out };
}

// ───────────── primitives ─────────────

function bad(reason: string): SondeError {
  return new SondeError('SONDE_BAD_MESSAGE', reason);
}

function obj(value: unknown, where: string): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw bad(`${where} must be an object`);
  return value as Record<string, unknown>;
}

function list(value: unknown, where: string, max: number): unknown[] {
  if (!Array.isArray(value)) throw bad(`${where} must be a list`);
  if (value.length > max) throw bad(`${where} has ${value.length} entries, more than ${max}`);
  return value;
}

function str(value: unknown, where: string): string {
  if (typeof value !== 'string') throw bad(`${where} must be a string`);
  if (value.length > PROTOCOL_LIMITS.maxStringLength) throw bad(`${where} is longer than ${PROTOCOL_LIMITS.maxStringLength} characters`);
  return value;
}

/** A non-empty string: ids, names and types that other records refer to. */
function id(value: unknown, where: string): string {
  const s = str(value, where);
  if (s.length === 0) throw bad(`${where} must not be empty`);
  return s;
}

function count(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw bad(`${where} must be a whole number >= 0`);
  return value;
}

function nonNegative(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw bad(`${where} must be a finite number >= 0`);
  return value;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], where: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) throw bad(`${where} must be one of ${allowed.join(', ')}`);
  return value as T;
}

function utf8Length(s: string): number {
  // Cheap upper bound first: most messages are far below the limit, and encoding 8 MiB to count it is waste.
  if (s.length * 3 <= PROTOCOL_LIMITS.maxMessageBytes) return s.length;
  return new TextEncoder().encode(s).length;
}
