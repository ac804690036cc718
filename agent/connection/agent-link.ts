import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  type AgentMessage,
  type PodIdentity,
  PROTOCOL_LIMITS,
  PROTOCOL_VERSION,
  type StartMessage,
} from '../../src/protocol/messages.js';
import { parseOperatorMessage } from '../../src/protocol/validate-operator-message.js';
import type { Catalogue } from '../catalogue/catalogue.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../log.js';
import type { Profiler } from '../profiling/profiler.js';
import type { Session } from '../profiling/session.js';
import type { BackoffPolicy } from './backoff.js';
import { ProgressPacer } from './progress-pacer.js';
import { ReconnectingSocket } from './reconnecting-socket.js';
import { UnackedBatches } from './unacked-batches.js';

/** (Sonde 0.3 hello `agent.instance`) This process's random id: a restarted process that reuses the pid is told apart by it. */
const PROCESS_INSTANCE = randomBytes(8).toString('hex');

/** The link's pacing knobs. */
export interface LinkTuning {
  backoff?: BackoffPolicy;
  /** Minimum time between catalogue messages (default 5 s). */
  catalogueEveryMs?: number;
  /** Progress messages per running session, when the count changed (default 50 ms; see progress-pacer.ts). */
  progressEveryMs?: number;
  /** Near its cap, a session's progress goes out on each request taken, at most this often (default 10 ms). */
  progressGapMs?: number;
  /** Finished requests are batched for this long before they are sent (default 100 ms). */
  flushEveryMs?: number;
}

export interface LinkOptions extends LinkTuning {
  url: string;
  token?: string | undefined;
  tokenFile?: string | undefined;
  /** PEM certificates to trust on wss:// (the operator's CA); the system's when unset. */
  ca?: string | undefined;
  pod: PodIdentity;
  labels: Record<string, string>;
  clock: Clock;
  log: Logger;
  catalogue: Catalogue;
  profiler: Profiler;
  /** The application's root for hello (`agent.root`, Sonde 0.4); asked once, at the first hello, when the main module is loaded. */
  root?: () => string | undefined;
}

/** A session the operator started on this agent, and what has been streamed for it. */
interface RemoteSession {
  session: Session;
  seq: number;
  /** Finished requests not sent yet, each already JSON. */
  pending: string[];
  /** The last progress sent, so an unchanged one is not sent again. */
  lastProgress?: string;
}

const AGENT_VERSION = '0.1.0';
/**
 * A session sends progress on every request taken once at most this many remain under its cap: the
 * operator's last `limit`s leave each agent a slack of at most its fine phase (operator/engine/credit.ts).
 */
const NEAR_CAP = 16;
/** Keep each requests message well under the protocol's size limit. */
const TARGET_MESSAGE_BYTES = 2 * 1024 * 1024;

/**
 * The agent's side of the protocol (src/protocol/messages.ts): hello on every connect, sessions started
 * and stopped by the operator, finished requests streamed in sequence-numbered batches, progress, the
 * catalogue when it changes, and `ended`. While the operator is away, results wait in `unacked` and
 * `ended` in `endedHeld`; everything else is state the next hello and welcome send afresh (catalogue,
 * progress) or a reply that means nothing to another connection (errors), so it is not kept. Sessions
 * keep running against their own deadlines meanwhile.
 */
export class AgentLink {
  private readonly socket: ReconnectingSocket;
  private readonly remote = new Map<string, RemoteSession>();
  /** Every `requests` batch until the operator acknowledges it (or, with an operator without acks, until sent). */
  private readonly unacked = new UnackedBatches();
  /** `ended` messages of sessions that ended while the operator was away, sent after their batches. */
  private readonly endedHeld = new Map<string, string>();
  private readonly log: Logger;
  private welcomed = false;
  /** The application root sent in hello: undefined until first asked, then the root or "" for none. */
  private root: string | undefined;
  /** The operator that welcomed us acknowledges batches (welcome `acks`). */
  private acking = false;
  private catalogueVersionSent = -1;
  private timers: TimerHandle[] = [];
  private flushTimer: TimerHandle | undefined;
  private closed = false;
  private readonly progress: ProgressPacer;

  constructor(private readonly o: LinkOptions) {
    this.log = o.log.child({ module: 'link' });
    this.socket = new ReconnectingSocket({
      url: o.url,
      ...(o.ca === undefined ? {} : { ca: o.ca }),
      headers: () => this.headers(),
      clock: o.clock,
      log: o.log,
      ...(o.backoff ? { backoff: o.backoff } : {}),
      onOpen: () => this.onOpen(),
      onMessage: (text) => this.onMessage(text),
      onClose: () => {
        this.welcomed = false;
      },
    });
    o.profiler.onSessionEnd((s) => this.onSessionEnd(s));
    this.progress = new ProgressPacer(o.clock, () => this.sendProgress(), () => this.remote.size > 0, o.progressEveryMs ?? 50, o.progressGapMs ?? 10);
  }

  start(): void {
    this.socket.start();
    this.every(this.o.catalogueEveryMs ?? 5000, () => this.sendCatalogue());
  }

  async close(): Promise<void> {
    this.closed = true;
    this.progress.close();
    for (const t of this.timers) this.o.clock.clearTimeout(t);
    if (this.flushTimer) this.o.clock.clearTimeout(this.flushTimer);
    this.flush();
    if (this.welcomed) for (const text of this.endedHeld.values()) this.socket.send(text);
    await this.socket.close();
  }

  private async headers(): Promise<Record<string, string>> {
    const token = this.o.tokenFile ? (await readFile(this.o.tokenFile, 'utf8')).trim() : this.o.token;
    return token ? { authorization: `Bearer ${token}` } : {};
  }

  /** `{root}` for hello, looked up once; nothing when unknown or too long for the operator to take. */
  private appRoot(): { root?: string } {
    if (this.root === undefined) {
      let root: string | undefined;
      try {
        root = this.o.root?.();
      } catch (err) {
        this.log.warn({ err }, 'the application root could not be found; paths are shown shortened');
      }
      this.root = root && root.length <= PROTOCOL_LIMITS.maxStringLength && !root.includes('\0') ? root : '';
    }
    return this.root ? { root: this.root } : {};
  }

  private onOpen(): void {
    this.welcomed = false;
    const hello: AgentMessage = {
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      pod: this.o.pod,
      labels: this.o.labels,
      agent: { runtime: 'node', runtimeVersion: process.versions.node, agentVersion: AGENT_VERSION, pid: process.pid, instance: PROCESS_INSTANCE, ...this.appRoot() },
      catalogue: this.o.catalogue.snapshot().slice(0, PROTOCOL_LIMITS.maxCatalogueEntries),
      sessions: [...this.remote.values()].map((r) => ({ session: r.session.id, requests: r.session.reported })),
      // Sessions that ended here with results still held: the operator takes them from a pod that took part.
      ended: this.heldSessions(),
      acks: true,
      limits: true,
    };
    let text = JSON.stringify(hello);
    // The operator takes at most maxHelloBytes before welcome; a catalogue too big for that goes
    // out as a `catalogue` message once welcomed (the version left unsent makes sendCatalogue do it).
    if (text.length * 3 > PROTOCOL_LIMITS.maxHelloBytes && Buffer.byteLength(text) > PROTOCOL_LIMITS.maxHelloBytes) {
      text = JSON.stringify({ ...hello, catalogue: [] });
      this.catalogueVersionSent = -1;
    } else this.catalogueVersionSent = this.o.catalogue.version;
    this.socket.send(text);
  }

  private onMessage(text: string): void {
    const parsed = parseOperatorMessage(text);
    if (!parsed.ok) {
      this.log.warn({ error: parsed.error }, 'bad message from the operator');
      this.send({ type: 'error', code: 'SONDE_BAD_MESSAGE', message: parsed.error });
      return;
    }
    const m = parsed.message;
    switch (m.type) {
      case 'welcome':
        this.welcomed = true;
        this.socket.setHeartbeat(m.heartbeatMs);
        this.socket.markHealthy();
        this.acking = m.acks === true;
        this.log.info({ agentId: m.agentId, acks: this.acking }, 'welcomed');
        // Held batches first (oldest first), then the `ended` that follow them.
        this.unacked.resend((t) => this.socket.send(t), !this.acking);
        for (const [session, text] of [...this.endedHeld]) {
          if (!this.socket.send(text)) break;
          this.endedHeld.delete(session);
        }
        for (const r of this.remote.values()) r.lastProgress = undefined; // a new operator has heard nothing yet
        this.sendCatalogue(); // only when hello had to leave it out
        return;
      case 'start':
        return this.startSession(m);
      case 'stop':
        this.flush();
        this.o.profiler.stop(m.session, m.reason);
        return;
      case 'limit':
        // (Sonde 0.4) Only sessions the operator started here; a lower cap may end one at once.
        if (this.remote.has(m.session)) this.o.profiler.limit(m.session, m.maxRequests);
        return;
      case 'error':
        this.log.warn({ code: m.code, message: m.message }, 'operator reported an error');
        return;
      case 'ack':
        return this.onAck(m.session, m.seq, m.retryAfterMs);
    }
  }

  /** The operator stored a batch (forget it), or could not (send it again after `retryAfterMs`). */
  private onAck(session: string, seq: number, retryAfterMs: number | undefined): void {
    if (retryAfterMs === undefined) return this.unacked.remove(session, seq);
    this.log.warn({ session, seq, retryAfterMs }, 'the operator could not store a batch; sending it again later');
    const t = this.o.clock.setTimeout(() => {
      this.timers = this.timers.filter((x) => x !== t);
      const text = this.unacked.get(session, seq);
      // Not welcomed: the batch goes out with the others after the next welcome.
      if (text !== undefined && this.welcomed) this.socket.send(text);
    }, retryAfterMs);
    this.timers.push(t);
  }

  /** Sessions that are over here but whose batches or `ended` the operator has not taken yet. */
  private heldSessions(): string[] {
    const held = this.unacked.sessions();
    for (const s of this.endedHeld.keys()) held.add(s);
    for (const s of this.remote.keys()) held.delete(s);
    return [...held].slice(0, 256);
  }

  private startSession(m: StartMessage): void {
    if (this.remote.has(m.session)) {
      // A resume after reconnect: the session never stopped here.
      this.log.debug({ session: m.session }, 'start for a session already running');
      return;
    }
    const limit = m.maxRequests - (m.alreadyReported ?? 0);
    let session: Session;
    try {
      session = this.o.profiler.start({ id: m.session, request: m.request, limit: Math.max(1, limit), deadline: m.deadline, sampleIntervalMs: m.sampleIntervalMs, retain: false });
    } catch (err) {
      this.send({ type: 'error', session: m.session, code: (err as { code?: string }).code ?? 'SONDE_INTERNAL', message: (err as Error).message });
      return;
    }
    if (limit <= 0) {
      this.o.profiler.stop(m.session, 'requests');
    }
    if (session.status === 'ended') {
      this.sendEnded(session, 0);
      return;
    }
    const r: RemoteSession = { session, seq: 0, pending: [] };
    this.remote.set(m.session, r);
    session.nearCap = NEAR_CAP;
    session.onNearCap = () => this.progress.soon();
    this.progress.wake();
    session.onRecord((record) => {
      r.pending.push(JSON.stringify(record));
      this.scheduleFlush();
    });
  }

  private onSessionEnd(session: Session): void {
    const r = this.remote.get(session.id);
    if (!r) return;
    this.flushSession(r);
    this.remote.delete(session.id);
    this.sendEnded(session, r.seq);
  }

  private sendEnded(session: Session, _seq: number): void {
    const res = session.result;
    const ended: AgentMessage = { type: 'ended', session: session.id, reason: res?.reason ?? 'stopped', requests: session.reported, samples: session.samples };
    if (res?.error !== undefined) ended.error = res.error;
    const text = JSON.stringify(ended);
    // Behind its session's batches: held (and named in the next hello) until a welcome can take it.
    if (this.welcomed && this.endedHeld.size === 0 && this.socket.send(text)) return;
    if (!this.closed) this.endedHeld.set(session.id, text);
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = this.o.clock.setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, this.o.flushEveryMs ?? 100);
  }

  private flush(): void {
    for (const r of this.remote.values()) this.flushSession(r);
  }

  /**
   * Sends a session's finished requests in batches under the count and size limits. Each record was
   * stringified once when it arrived; a batch is those strings joined, not a second serialisation.
   */
  private flushSession(r: RemoteSession): void {
    const head = `{"type":"requests","session":${JSON.stringify(r.session.id)},"seq":`;
    while (r.pending.length > 0) {
      let count = 0;
      let bytes = 0;
      while (count < r.pending.length && count < PROTOCOL_LIMITS.maxRequestsPerMessage) {
        const size = r.pending[count]!.length + 1;
        if (count > 0 && bytes + size > TARGET_MESSAGE_BYTES) break;
        bytes += size;
        count++;
      }
      const batch = r.pending.splice(0, count);
      const seq = ++r.seq;
      const text = `${head}${seq},"requests":[${batch.join(',')}]}`;
      // Held until acknowledged; sent now when the link is up, else after the next welcome.
      this.unacked.add(r.session.id, seq, text);
      if (this.welcomed && this.socket.send(text) && !this.acking) this.unacked.remove(r.session.id, seq);
    }
  }

  private sendProgress(): void {
    if (!this.welcomed) return;
    for (const r of this.remote.values()) {
      const s = r.session;
      const key = `${s.reported}:${s.taken}:${s.samples}`;
      if (key === r.lastProgress) continue;
      r.lastProgress = key;
      this.send({ type: 'progress', session: s.id, requests: s.reported, samples: s.samples, inFlight: s.taken - s.reported });
    }
  }

  private sendCatalogue(): void {
    const c = this.o.catalogue;
    if (!this.welcomed || c.version === this.catalogueVersionSent) return;
    this.catalogueVersionSent = c.version;
    this.send({ type: 'catalogue', entries: c.snapshot().slice(0, PROTOCOL_LIMITS.maxCatalogueEntries) });
  }

  /**
   * Sends now when the socket is open, else drops the message: only results and `ended` must survive a
   * reconnect, and they have their own holds (see the class comment).
   */
  private send(message: AgentMessage): void {
    this.socket.send(JSON.stringify(message));
  }

  private every(ms: number, fn: () => void): void {
    const tick = (): void => {
      if (this.closed) return;
      try {
        fn();
      } catch (err) {
        this.log.error({ err }, 'periodic send failed');
      }
      this.timers = this.timers.filter((t) => t !== handle);
      handle = this.o.clock.setTimeout(tick, ms);
      this.timers.push(handle);
    };
    let handle = this.o.clock.setTimeout(tick, ms);
    this.timers.push(handle);
  }
}
