import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { SondeError, closeReason } from '../../src/errors.js';
import {
  AGENT_PATH,
  PROTOCOL_LIMITS,
  PROTOCOL_VERSION,
  type AgentMessage,
  type HelloMessage,
  type OperatorMessage,
  type PodIdentity,
  type RequestTypeStats,
  type SessionEndReason,
  type StartMessage,
} from '../../src/protocol/messages.js';
import { parseAgentMessage } from '../../src/protocol/validate-agent-message.js';
import { type Clock, every, systemClock } from '../clock.js';
import type { AgentAuthenticator } from '../engine/contracts.js';
import type { AgentInfo } from '../store/contracts.js';
import { type AgentConnection, type AgentReport, podKey } from './agent-connection.js';
import { ConnectionBudget, type ConnectionLimits, DEFAULT_CONNECTION_LIMITS } from './connection-limits.js';
import { CounterSet, type HubMetrics } from './hub-counters.js';
import { raisePayloadLimit } from './payload-limit.js';

/** What the hub tells the engine. Calls are synchronous; a listener that throws harms only that message. */
export interface HubListener {
  /** An agent passed hello and authentication and was welcomed. */
  connected(agent: AgentConnection): void;
  /** A validated message from an open connection, already checked against the connection's sessions. */
  report(agent: AgentConnection, message: AgentReport): void;
  /** The connection is gone (closed, terminated, replaced or refused after it was open). */
  disconnected(agent: AgentConnection): void;
}

export interface AgentHubOptions {
  authenticator: AgentAuthenticator;
  log: Logger;
  clock?: Clock;
  /** Ping interval; a connection that has not answered the previous ping by the next one is terminated. Default 15 s. */
  heartbeatMs?: number;
  /** Time from upgrade to a successful hello and authentication. Default 10 s. */
  helloTimeoutMs?: number;
  /**
   * Refuse agents (503, they retry) until a listener is set (added with the engine's recovery): the
   * engine sets it once it has recovered its sessions against a synced pod directory, so no claim is
   * judged, and no report dropped, before the sessions it refers to are back in memory.
   */
  waitForListener?: boolean;
  /** Labels shown in `agents()`; defaults to the hello labels (in a cluster, pass the pod informer's). */
  labelsOf?: (pod: PodIdentity) => Record<string, string> | undefined;
  /** Per-connection and pending-socket limits (connection-limits.ts); defaults for anything left out. */
  limits?: Partial<ConnectionLimits>;
}

/** Messages an agent may send between hello and welcome (while its token is checked) before it is refused. */
const MAX_QUEUED = 64;

/**
 * The agent endpoint: a `ws` server in noServer mode that the operator's HTTP server hands upgrades on
 * AGENT_PATH. It authenticates each agent (token + the pod claimed in hello), binds the connection to
 * that pod, validates every message, keeps one connection per agent process of a pod (pod and pid: a
 * newer one of the same process replaces the older; at most `maxProcessesPerPod` processes) and runs the
 * heartbeat with a single sweep timer. Every failure closes only the connection that caused it.
 *
 * Per connection the hub keeps one small record (`Link`); agents are indexed by pod (then pid) and by
 * namespace so a session's fan-out walks only its namespace.
 */
export class AgentHub {
  private readonly wss: WebSocketServer;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly auth: AgentAuthenticator;
  private readonly heartbeatMs: number;
  private readonly helloTimeoutMs: number;
  private readonly labelsOf: AgentHubOptions['labelsOf'];
  private readonly limits: ConnectionLimits;
  private readonly counterSet = new CounterSet();
  /** Per refusal code: when it was last logged and how many since. */
  private readonly refusalLog = new Map<string, { at: number; count: number }>();
  /** Open connections by pod key, then by the agent's pid: several processes of one pod each have their own. */
  private readonly byPod = new Map<string, Map<number, Link>>();
  private readonly byNamespace = new Map<string, Map<string, Link>>();
  private openCount = 0;
  /** Sockets not yet open: waiting for hello or for authentication. */
  private readonly pending = new Set<Link>();
  private readonly presence = new Set<(agent: AgentConnection, up: boolean) => void>();
  private listener: HubListener | undefined;
  private readonly stopSweep: () => void;
  private lastPing: number;
  private readonly bootId = randomBytes(4).toString('hex');
  private nextId = 0;
  private closing = false;
  private readonly waitForListener: boolean;

  constructor(options: AgentHubOptions) {
    this.waitForListener = options.waitForListener ?? false;
    this.auth = options.authenticator;
    this.log = options.log.child({ module: 'hub' });
    this.clock = options.clock ?? systemClock;
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
    this.helloTimeoutMs = options.helloTimeoutMs ?? 10_000;
    this.labelsOf = options.labelsOf;
    this.limits = { ...DEFAULT_CONNECTION_LIMITS, ...options.limits };
    // perMessageDeflate stays off: a zlib context per connection would cost more memory than 10,000 agents can afford.
    // maxPayload is the hello's: an unauthenticated socket cannot make ws buffer 8 MiB; open() raises it.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.limits.helloBytes, perMessageDeflate: false, clientTracking: false });
    this.wss.on('error', (err) => this.log.error({ err }, 'websocket server error'));
    this.lastPing = this.clock.now();
    this.stopSweep = every(this.clock, Math.max(10, Math.min(this.heartbeatMs, this.helloTimeoutMs) / 2), () => this.sweep());
  }

  /** The engine: the one listener of connections and reports. */
  setListener(listener: HubListener): void {
    this.listener = listener;
  }

  /** Called when a pod's agent connects (true) or goes (false); the hello-label directory uses it. */
  onPresence(fn: (agent: AgentConnection, up: boolean) => void): () => void {
    this.presence.add(fn);
    return () => void this.presence.delete(fn);
  }

  /** Takes over an HTTP upgrade for AGENT_PATH; anything else is refused with 404. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (err) => this.log.debug({ err }, 'agent socket error before upgrade'));
    const path = (req.url ?? '').split('?')[0];
    if (path !== AGENT_PATH) return refuseUpgrade(socket, 404, 'Not Found');
    if (this.closing || (this.waitForListener && !this.listener)) return refuseUpgrade(socket, 503, 'Service Unavailable');
    const token = bearerToken(req.headers.authorization);
    // Refused before a WebSocket exists: a flood of sockets costs a counter, not a buffer each.
    if (this.pending.size >= this.limits.maxPending) {
      this.refused('SONDE_TOO_MANY_CONNECTIONS', req);
      return refuseUpgrade(socket, 503, 'Service Unavailable', 'Retry-After: 5\r\n');
    }
    if (this.auth.precheck && !this.auth.precheck(token)) {
      this.refused('SONDE_UNAUTHENTICATED', req);
      return refuseUpgrade(socket, 401, 'Unauthorized');
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, token));
  }

  /**
   * Counts an upgrade refused before any socket exists, and logs it — at most one line per code every
   * 10 s, with how many were refused since: a flood must not become a flood of log lines.
   */
  private refused(code: 'SONDE_TOO_MANY_CONNECTIONS' | 'SONDE_UNAUTHENTICATED', req: IncomingMessage): void {
    this.counterSet.error(code);
    const now = this.clock.now();
    const last = this.refusalLog.get(code) ?? { at: -Infinity, count: 0 };
    last.count++;
    if (now - last.at >= 10_000) {
      this.log.warn({ code, refused: last.count, from: req.socket.remoteAddress }, code === 'SONDE_UNAUTHENTICATED' ? 'refused agent upgrades: missing or wrong token' : 'refused agent upgrades: too many sockets waiting for hello');
      last.at = now;
      last.count = 0;
    }
    this.refusalLog.set(code, last);
  }

  /** Convenience for servers without their own upgrade routing: hands AGENT_PATH upgrades to the hub. */
  attach(server: Server): () => void {
    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => this.handleUpgrade(req, socket, head);
    server.on('upgrade', onUpgrade);
    return () => void server.off('upgrade', onUpgrade);
  }

  /** The open connection of a pod's agent process `pid`; without `pid`, any one of the pod's. */
  agentFor(pod: Pick<PodIdentity, 'namespace' | 'name'>, pid?: number): AgentConnection | undefined {
    const procs = this.byPod.get(podKey(pod as PodIdentity));
    if (!procs) return undefined;
    if (pid !== undefined) return procs.get(pid);
    return procs.values().next().value;
  }

  /** The open connections of every agent process of a pod. */
  agentsOf(pod: Pick<PodIdentity, 'namespace' | 'name'>): AgentConnection[] {
    return [...(this.byPod.get(podKey(pod as PodIdentity))?.values() ?? [])];
  }

  /** Open connections in one namespace: the candidates of a session's fan-out. */
  agentsIn(namespace: string): IterableIterator<AgentConnection> {
    return (this.byNamespace.get(namespace) ?? new Map<string, Link>()).values();
  }

  /** Number of open connections. */
  get size(): number {
    return this.openCount;
  }

  /** The same, for the API's event stream (which polls it): no copy of any agent's record. */
  agentCount(): number {
    return this.openCount;
  }

  private *openLinks(): IterableIterator<Link> {
    for (const procs of this.byPod.values()) yield* procs.values();
  }

  /** Sends `start` and records that the agent may now report on the session. */
  start(agent: AgentConnection, message: StartMessage): boolean {
    agent.sessions.add(message.session);
    (agent as Link).budget?.allow(message.session, message.maxRequests);
    return this.send(agent, message);
  }

  /**
   * The engine takes this connection's reports on a session it claimed in hello (a resume, or results
   * held for an ended session). Claims are never taken by the hub on its own say-so.
   */
  grant(agent: AgentConnection, session: string): void {
    agent.refused.delete(session);
    agent.sessions.add(session);
  }

  /** The engine refused a claim: reports on that session are dropped (acknowledged) instead of taken. */
  refuse(agent: AgentConnection, session: string): void {
    if (!agent.sessions.has(session)) agent.refused.add(session);
  }

  /** Acknowledges a `requests` batch to agents that keep batches until acknowledged (hello `acks`). */
  ack(agent: AgentConnection, session: string, seq: number, retryAfterMs?: number): boolean {
    if (!agent.acks) return false;
    return this.send(agent, { type: 'ack', session, seq, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
  }

  /** (Sonde 0.4) Lowers the session's cap on an agent that honours `limit`; false (nothing sent) for any other. */
  limit(agent: AgentConnection, session: string, maxRequests: number): boolean {
    if (!agent.limits) return false;
    return this.send(agent, { type: 'limit', session, maxRequests });
  }

  /** Sends `stop`. The session stays allowed on the connection: in-flight requests still come back. */
  stop(agent: AgentConnection, session: string, reason: SessionEndReason): boolean {
    return this.send(agent, { type: 'stop', session, reason });
  }

  /**
   * The session is over for this connection's bookkeeping: further reports on it are out of order
   * (unless the agent reconnects and claims it). Keeps the per-connection set from growing for ever
   * on agents that live through many sessions.
   */
  forget(agent: AgentConnection, session: string): void {
    agent.sessions.delete(session);
    (agent as Link).budget?.forget(session);
  }

  /** Sends one message to an open connection; false if it is not open. */
  send(agent: AgentConnection, message: OperatorMessage): boolean {
    const link = agent as Link;
    if (link.phase !== 'open') return false;
    link.ws.send(JSON.stringify(message), (err) => {
      if (err) this.log.debug({ err, agent: link.id }, 'send failed');
    });
    return true;
  }

  /** Connected agents, as the REST API lists them. */
  agents(): AgentInfo[] {
    const out: AgentInfo[] = [];
    for (const link of this.openLinks()) {
      out.push({
        id: link.id,
        pod: { ...link.pod },
        labels: { ...(this.labelsOf?.(link.pod) ?? link.labels) },
        runtime: link.agent.runtime,
        runtimeVersion: link.agent.runtimeVersion,
        agentVersion: link.agent.agentVersion,
        connectedAt: new Date(link.connectedAt).toISOString(),
        sessions: [...link.sessions],
        catalogue: link.catalogue.map((e) => ({ ...e })),
        ...(link.agent.root !== undefined ? { root: link.agent.root } : {}),
      });
    }
    return out;
  }

  /** Counters for `/metrics`, copied. */
  counters(): HubMetrics {
    return this.counterSet.snapshot(this.openCount, this.pending.size);
  }

  /** Closes every connection with 1001 and stops the sweep; resolves when the sockets are gone (or after 2 s). */
  async close(): Promise<void> {
    this.closing = true;
    this.stopSweep();
    const links = [...this.pending, ...this.openLinks()];
    const gone = links.map((l) => new Promise<void>((resolve) => (l.ws.readyState === l.ws.CLOSED ? resolve() : l.ws.once('close', () => resolve()))));
    for (const link of links) this.fail(link, new SondeError('SONDE_SHUTTING_DOWN'), false);
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 2000).unref());
    await Promise.race([Promise.all(gone), timeout]);
    for (const link of links) link.ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  // ───────────── connection life ─────────────

  private accept(ws: WebSocket, token: string | undefined): void {
    const link = new Link(ws, `${this.bootId}-${(++this.nextId).toString(36)}`, this.clock.now() + this.helloTimeoutMs, token);
    this.pending.add(link);
    // ws closes with 1009 by itself when a frame exceeds maxPayload, and reports it here first.
    ws.on('error', (err: Error & { code?: string }) => {
      const code = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'SONDE_TREE_TOO_LARGE' : 'SONDE_BAD_MESSAGE';
      this.counterSet.error(code);
      this.log.warn({ err, agent: link.id, pod: link.podName() }, 'agent connection error');
      this.drop(link);
    });
    ws.on('pong', () => {
      link.waitingPong = false;
    });
    ws.on('message', (data, isBinary) => this.onMessage(link, data, isBinary));
    ws.on('close', () => this.drop(link));
  }

  private onMessage(link: Link, data: RawData, isBinary: boolean): void {
    if (link.phase === 'closed') return;
    const bytes = rawBytes(data);
    link.waitingPong = false;
    let message: AgentMessage;
    try {
      if (isBinary) throw new SondeError('SONDE_BAD_MESSAGE', 'binary frames are not part of the protocol; send JSON text');
      message = parseAgentMessage(bytes);
    } catch (err) {
      this.counterSet.message('invalid', bytes.byteLength);
      return this.fail(link, asSondeError(err));
    }
    this.counterSet.message(message.type, bytes.byteLength);
    if (message.type === 'requests') this.counterSet.requestsProfiled += message.requests.length;
    const over = this.overLimit(link, message, bytes.byteLength);
    if (over) return this.fail(link, over);

    if (link.phase === 'hello') {
      if (message.type !== 'hello') return this.fail(link, new SondeError('SONDE_HELLO_REQUIRED', `got ${message.type} first`));
      return this.authenticate(link, message);
    }
    if (message.type === 'hello') return this.fail(link, new SondeError('SONDE_BAD_MESSAGE', 'hello sent twice'));
    if (link.phase === 'auth') {
      link.queued ??= [];
      if (link.queued.length >= MAX_QUEUED) return this.fail(link, new SondeError('SONDE_BAD_MESSAGE', `more than ${MAX_QUEUED} messages before welcome`));
      link.queued.push(message);
      return;
    }
    this.dispatch(link, message);
  }

  /** The limit this message breaks, if any: bytes before welcome, then rates and request budgets. */
  private overLimit(link: Link, message: AgentMessage, bytes: number): SondeError | undefined {
    const now = this.clock.now();
    if (!link.budget) {
      link.preWelcomeBytes += bytes;
      if (link.preWelcomeBytes > this.limits.preWelcomeBytes) return new SondeError('SONDE_TREE_TOO_LARGE', `more than ${this.limits.preWelcomeBytes} bytes before welcome`);
      return undefined;
    }
    const rate = link.budget.admit(bytes, now);
    if (rate) return rate;
    if (message.type === 'requests') return link.budget.count(message.session, message.requests.length);
    return undefined;
  }

  private authenticate(link: Link, hello: HelloMessage): void {
    link.phase = 'auth';
    const token = link.token;
    link.token = undefined;
    let pending: Promise<Awaited<ReturnType<AgentAuthenticator['authenticate']>>>;
    try {
      pending = this.auth.authenticate(token, hello.pod);
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (result) => {
        if (link.phase !== 'auth') return;
        if (!result.ok) return this.fail(link, new SondeError(result.code, result.message));
        link.expiresAt = result.expiresAt;
        this.open(link, hello, result.pod);
      },
      (err: unknown) => {
        this.log.error({ err, pod: podKey(hello.pod) }, 'authenticator failed');
        if (link.phase === 'auth') this.fail(link, new SondeError('SONDE_UNAUTHENTICATED', 'credentials could not be checked'));
      },
    );
  }

  /**
   * Binds the link to the pod its credentials proved and to its process (pid), replaces an older
   * connection of that process (a reconnect, or a restarted process reusing the pid), welcomes. A pod
   * already holding `maxProcessesPerPod` other processes gets no more.
   */
  private open(link: Link, hello: HelloMessage, pod: PodIdentity): void {
    this.pending.delete(link);
    link.bind(pod, hello, this.clock.now());
    const key = podKey(pod);
    let procs = this.byPod.get(key);
    const older = procs?.get(link.agent.pid);
    if (!older && procs && procs.size >= this.limits.maxProcessesPerPod) {
      return this.fail(link, new SondeError('SONDE_TOO_MANY_CONNECTIONS', `pod ${key} already has ${procs.size} agent processes connected`));
    }
    if (older) this.fail(older, new SondeError('SONDE_REPLACED', `connection ${link.id} replaced ${older.id} (pid ${link.agent.pid})`));
    procs = this.byPod.get(key);
    if (!procs) this.byPod.set(key, (procs = new Map()));
    procs.set(link.agent.pid, link);
    this.openCount++;
    let ns = this.byNamespace.get(pod.namespace);
    if (!ns) this.byNamespace.set(pod.namespace, (ns = new Map()));
    ns.set(link.procKey(), link);
    link.phase = 'open';
    link.budget = new ConnectionBudget(this.limits, this.clock.now());
    raisePayloadLimit(link.ws, PROTOCOL_LIMITS.maxMessageBytes);
    this.send(link, { type: 'welcome', protocol: PROTOCOL_VERSION, agentId: link.id, heartbeatMs: this.heartbeatMs, ...(link.acks ? { acks: true } : {}), processesPerPod: this.limits.maxProcessesPerPod });
    this.log.info({ agent: link.id, pod: key, pid: hello.agent.pid, processes: procs.size, runtime: hello.agent.runtime, claimed: hello.sessions.length }, 'agent connected');
    this.notify(() => this.listener?.connected(link), link);
    for (const fn of this.presence) this.notify(() => fn(link, true), link);
    const queued = link.queued;
    link.queued = undefined;
    for (const m of queued ?? []) {
      if (link.phase !== 'open') break;
      this.dispatch(link, m);
    }
  }

  private dispatch(link: Link, message: AgentReport): void {
    if (message.type === 'catalogue') link.catalogue = message.entries;
    else if (message.type !== 'error' && !link.sessions.has(message.session)) {
      if (link.refused.has(message.session)) {
        // A claim the engine refused (a session it does not want from this pod): dropped, and a batch is
        // acknowledged so the agent lets go of it; nothing of it reaches the engine.
        this.counterSet.error('SONDE_OUT_OF_ORDER');
        if (message.type === 'requests') this.ack(link, message.session, message.seq);
        return;
      }
      // The documented rule (docs/adr/0002): reports on a session this connection was neither started
      // on nor granted are a protocol violation; close, keeping everything already received.
      return this.fail(link, new SondeError('SONDE_OUT_OF_ORDER', `${message.type} for session ${message.session.slice(0, 40)}`));
    }
    this.notify(() => this.listener?.report(link, message), link);
  }

  /** Runs a listener call; an exception there is the operator's bug, never the agent's: log, count, go on. */
  private notify(fn: () => void, link: Link): void {
    try {
      fn();
    } catch (err) {
      this.counterSet.error('SONDE_INTERNAL');
      this.log.error({ err, agent: link.id, pod: link.podName() }, 'hub listener failed');
    }
  }

  /** Closes one connection with the error's close code and reason. */
  private fail(link: Link, err: SondeError, count = true): void {
    if (link.phase === 'closed') return;
    if (count) this.counterSet.error(err.code);
    if (err.code !== 'SONDE_SHUTTING_DOWN') this.log.warn({ agent: link.id, pod: link.podName(), code: err.code, reason: err.message }, 'closing agent connection');
    this.drop(link);
    try {
      link.ws.close(err.wsCode, closeReason(err.message));
    } catch {
      link.ws.terminate();
    }
  }

  /** Forgets a connection (idempotent) and tells the engine if it was open. */
  private drop(link: Link): void {
    const was = link.phase;
    if (was === 'closed') return;
    link.phase = 'closed';
    link.queued = undefined;
    this.pending.delete(link);
    if (was !== 'open') return;
    const key = podKey(link.pod);
    const procs = this.byPod.get(key);
    if (procs?.get(link.agent.pid) === link) {
      procs.delete(link.agent.pid);
      this.openCount--;
      if (procs.size === 0) this.byPod.delete(key);
      const ns = this.byNamespace.get(link.pod.namespace);
      ns?.delete(link.procKey());
      if (ns?.size === 0) this.byNamespace.delete(link.pod.namespace);
    }
    this.log.info({ agent: link.id, pod: key }, 'agent disconnected');
    this.notify(() => this.listener?.disconnected(link), link);
    for (const fn of this.presence) this.notify(() => fn(link, false), link);
  }

  /** The one timer: refuses sockets that never said hello, and runs the ping/pong heartbeat. */
  private sweep(): void {
    const now = this.clock.now();
    for (const link of this.pending) {
      if (now < link.helloBy) continue;
      if (link.phase === 'hello') this.fail(link, new SondeError('SONDE_HELLO_REQUIRED', `no hello within ${this.helloTimeoutMs}ms`));
      else this.fail(link, new SondeError('SONDE_UNAUTHENTICATED', `authentication took more than ${this.helloTimeoutMs}ms`));
    }
    // A connection lives no longer than the token that opened it; the agent redials with the rotated one.
    for (const link of [...this.openLinks()]) {
      if (link.expiresAt !== undefined && link.expiresAt <= now) this.fail(link, new SondeError('SONDE_UNAUTHENTICATED', 'the token expired: reconnect with the rotated token'));
    }
    if (now - this.lastPing < this.heartbeatMs) return;
    this.lastPing = now;
    for (const link of [...this.openLinks()]) {
      if (link.waitingPong) {
        this.counterSet.error('SONDE_HEARTBEAT_MISSED');
        this.log.warn({ agent: link.id, pod: link.podName() }, 'no pong: terminating agent connection');
        this.drop(link);
        link.ws.terminate();
        continue;
      }
      link.waitingPong = true;
      try {
        link.ws.ping();
      } catch (err) {
        this.log.debug({ err, agent: link.id }, 'ping failed');
      }
    }
  }
}

/** Internal per-connection record; the engine sees it as an AgentConnection. */
class Link implements AgentConnection {
  phase: 'hello' | 'auth' | 'open' | 'closed' = 'hello';
  waitingPong = false;
  /** When the credential that opened the connection expires (epoch ms), if known. */
  expiresAt: number | undefined;
  queued: AgentReport[] | undefined;
  pod!: PodIdentity;
  labels!: Record<string, string>;
  agent!: HelloMessage['agent'];
  connectedAt = 0;
  claimed: readonly string[] = [];
  ended: readonly string[] = [];
  acks = false;
  limits = false;
  catalogue: RequestTypeStats[] = [];
  readonly sessions = new Set<string>();
  readonly refused = new Set<string>();
  /** Bytes received before welcome; then the meters, from welcome on. */
  preWelcomeBytes = 0;
  budget: ConnectionBudget | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly id: string,
    readonly helloBy: number,
    public token: string | undefined,
  ) {}

  bind(pod: PodIdentity, hello: HelloMessage, now: number): void {
    this.pod = pod;
    this.labels = hello.labels;
    this.agent = hello.agent;
    this.connectedAt = now;
    this.claimed = hello.sessions.map((s) => s.session);
    this.ended = hello.ended ?? [];
    this.acks = hello.acks === true;
    this.limits = hello.limits === true;
    this.catalogue = hello.catalogue;
  }

  podName(): string | undefined {
    return this.pod ? podKey(this.pod) : undefined;
  }

  /** The process's key within its namespace: pod name and pid. */
  procKey(): string {
    return `${this.pod.name}/${this.agent.pid}`;
  }
}

function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}

function rawBytes(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function asSondeError(err: unknown): SondeError {
  return err instanceof SondeError ? err : new SondeError('SONDE_BAD_MESSAGE', (err as Error).message);
}

function refuseUpgrade(socket: Duplex, status: number, text: string, headers = ''): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\n${headers}Content-Length: 0\r\n\r\n`);
}
