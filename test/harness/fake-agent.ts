import WebSocket from 'ws';
import type { SerializedTree } from '../../src/model/serialized.js';
import type {
  AgentMessage,
  OperatorMessage,
  PodIdentity,
  RequestRecord,
  RequestTypeStats,
  SessionEndReason,
  StartMessage,
  WelcomeMessage,
} from '../../src/protocol/messages.js';

/**
 * A light agent that speaks the wire protocol and nothing else: no sampler, no app. Tests drive it
 * message by message (including malformed ones), and the operator benchmark runs thousands of them.
 *
 * It has no runtime import from the project (only `import type`), so it also runs as plain
 * type-stripped TypeScript (`node --experimental-strip-types`, Node 22+) in benchmark child processes.
 */
export const FAKE_AGENT_PROTOCOL = 1;

export interface FakeAgentOptions {
  /** `ws://127.0.0.1:PORT/v1/agents`. */
  url: string;
  token?: string;
  pod: PodIdentity;
  labels?: Record<string, string>;
  catalogue?: RequestTypeStats[];
  /** Sessions to claim in hello, as an agent that reconnects after an operator restart does. */
  sessions?: { session: string; requests: number }[];
  /** Sessions that ended while results for them are still held (hello `ended`, Sonde 0.2). */
  ended?: string[];
  /** Announce that batches are kept until acknowledged (hello `acks`, Sonde 0.2). */
  acks?: boolean;
  /** Announce that `limit` is honoured (hello `limits`, Sonde 0.4). */
  limits?: boolean;
  pid?: number;
  /** (Sonde 0.3) hello `agent.instance`: the process incarnation; absent, the operator goes by the pid. */
  instance?: string;
  /** Answer pings (default true). False simulates a hung agent for heartbeat tests. */
  autoPong?: boolean;
  /** Send hello right after connecting (default true). */
  hello?: boolean;
  /** Override the protocol version announced in hello. */
  protocol?: number;
  /** For `wss://`: the CA (PEM) to trust instead of the system's. */
  ca?: string;
}

export interface Closed {
  code: number;
  reason: string;
}

export class FakeAgent {
  readonly ws: WebSocket;
  readonly received: OperatorMessage[] = [];
  /** Resolves when the socket closes, with the code and reason the operator gave. */
  readonly closed: Promise<Closed>;
  welcome: WelcomeMessage | undefined;
  private readonly seqs = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  private closedWith: Closed | undefined;
  readonly options: FakeAgentOptions;

  // No parameter properties: they are not erasable by Node's type stripping.
  private constructor(options: FakeAgentOptions) {
    this.options = options;
    const headers: Record<string, string> = {};
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    this.ws = new WebSocket(options.url, { headers, autoPong: options.autoPong ?? true, perMessageDeflate: false, ...(options.ca !== undefined ? { ca: options.ca } : {}) });
    this.ws.on('error', () => {
      /* the close event carries what tests need */
    });
    this.ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as OperatorMessage;
      if (msg.type === 'welcome') this.welcome = msg;
      this.received.push(msg);
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        this.closedWith = { code, reason: reason.toString() };
        resolve(this.closedWith);
        this.wake();
      });
    });
  }

  /** Opens the socket (and sends hello unless told not to); resolves once the socket is open. */
  static async open(options: FakeAgentOptions): Promise<FakeAgent> {
    const agent = new FakeAgent(options);
    await new Promise<void>((resolve, reject) => {
      agent.ws.once('open', () => resolve());
      agent.ws.once('close', (code) => reject(new Error(`closed before open: ${code}`)));
      agent.ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
    if (options.hello ?? true) agent.sendHello();
    return agent;
  }

  /** Opens, says hello and waits for welcome. Rejects with the close code if the operator refuses. */
  static async connect(options: FakeAgentOptions, timeoutMs = 10_000): Promise<FakeAgent> {
    const agent = await FakeAgent.open(options);
    await agent.waitFor((m) => m.type === 'welcome', timeoutMs);
    return agent;
  }

  sendHello(): void {
    const o = this.options;
    this.send({
      type: 'hello',
      protocol: o.protocol ?? FAKE_AGENT_PROTOCOL,
      pod: o.pod,
      labels: o.labels ?? {},
      agent: { runtime: 'node', runtimeVersion: process.version, agentVersion: 'fake', pid: o.pid ?? process.pid, ...(o.instance !== undefined ? { instance: o.instance } : {}) },
      catalogue: o.catalogue ?? [],
      sessions: o.sessions ?? [],
      ...(o.ended ? { ended: o.ended } : {}),
      ...(o.acks ? { acks: true } : {}),
      ...(o.limits ? { limits: true } : {}),
    });
  }

  send(message: AgentMessage | Record<string, unknown>): void {
    this.ws.send(JSON.stringify(message));
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  /** Reports finished requests with the next sequence number of that session (or the one given). */
  report(session: string, requests: RequestRecord[], seq?: number): number {
    const s = seq ?? (this.seqs.get(session) ?? 0) + 1;
    this.seqs.set(session, Math.max(s, this.seqs.get(session) ?? 0));
    this.send({ type: 'requests', session, seq: s, requests });
    return s;
  }

  progress(session: string, requests: number, samples: number, inFlight = 0): void {
    this.send({ type: 'progress', session, requests, samples, inFlight });
  }

  ended(session: string, reason: SessionEndReason, requests: number, samples = 0, error?: string): void {
    this.send({ type: 'ended', session, reason, requests, samples, ...(error ? { error } : {}) });
  }

  /** The `start` of a session, once received. */
  startOf(session: string): StartMessage | undefined {
    return this.received.find((m): m is StartMessage => m.type === 'start' && m.session === session);
  }

  /** Messages of one type received so far. */
  ofType<T extends OperatorMessage['type']>(type: T): Extract<OperatorMessage, { type: T }>[] {
    return this.received.filter((m) => m.type === type) as Extract<OperatorMessage, { type: T }>[];
  }

  /** Resolves with the first received message (past or future) that satisfies `pred`. */
  async waitFor(pred: (m: OperatorMessage) => boolean, timeoutMs = 10_000): Promise<OperatorMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.received.find(pred);
      if (hit) return hit;
      if (this.closedWith) throw new Error(`connection closed (${this.closedWith.code} ${this.closedWith.reason}) while waiting`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a message');
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, left);
        function done(): void {
          clearTimeout(t);
          resolve();
        }
        this.waiters.add(done);
      });
    }
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  close(): Promise<Closed> {
    this.ws.close(1000, 'bye');
    return this.closed;
  }

  /** Drops the TCP connection without a close frame, as a killed process does. */
  kill(): Promise<Closed> {
    this.ws.terminate();
    return this.closed;
  }

  private wake(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }
}

/** A stack for `makeTree`: frame names root-most first, and the leaf's self weights. */
export interface FakeStack {
  frames: string[];
  samples: number;
  wallUs?: number;
  cpuUs?: number;
  /** File of every frame (default `app.js`). */
  file?: string;
  /** Kind of the leaf frame as an index into FRAME_KINDS (default 0, code; 5 is synthetic). */
  leafKind?: number;
}

/** Builds a valid SerializedTree from stacks, without the model's builder (see the note at the top). */
export function makeTree(stacks: FakeStack[]): SerializedTree {
  const strings: string[] = [];
  const stringIdx = new Map<string, number>();
  const str = (s: string): number => {
    let i = stringIdx.get(s);
    if (i === undefined) stringIdx.set(s, (i = strings.push(s) - 1));
    return i;
  };
  const frames: number[] = [];
  const frameIdx = new Map<string, number>();
  const frame = (name: string, file: string, kind: number): number => {
    const key = `${name}\u0000${file}\u0000${kind}`;
    let i = frameIdx.get(key);
    if (i === undefined) {
      i = frames.length / 5;
      frames.push(str(name), str(file), lineOf(name), 1, kind);
      frameIdx.set(key, i);
    }
    return i;
  };
  const nodes: number[] = [];
  const nodeIdx = new Map<string, number>();
  for (const s of stacks) {
    let parent = 0;
    for (const [depth, name] of s.frames.entries()) {
      const f = frame(name, s.file ?? 'app.js', depth === s.frames.length - 1 ? (s.leafKind ?? 0) : 0);
      const key = `${parent}:${f}`;
      let n = nodeIdx.get(key);
      if (n === undefined) {
        n = nodes.length / 5 + 1;
        nodes.push(parent, f, 0, 0, 0);
        nodeIdx.set(key, n);
      }
      parent = n;
    }
    const o = (parent - 1) * 5;
    nodes[o + 2]! += s.samples;
    nodes[o + 3]! += s.wallUs ?? s.samples * 10_000;
    nodes[o + 4]! += s.cpuUs ?? 0;
  }
  return { version: 1, strings, frames, nodes };
}

/** The same name gets the same line in every tree, so equal functions merge across requests and pods. */
function lineOf(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return 1 + (h % 997);
}

let requestCounter = 0;

/** A finished request record with a small tree whose hot leaf is `hot`. */
export function fakeRequest(type: string, options: { id?: string; durationMs?: number; hot?: string; samples?: number; startedAt?: number } = {}): RequestRecord {
  const samples = options.samples ?? 10;
  const hot = options.hot ?? 'hotFunction';
  return {
    id: options.id ?? `r${++requestCounter}`,
    type,
    startedAt: options.startedAt ?? Date.now(),
    durationMs: options.durationMs ?? 20,
    outcome: 'ok',
    status: 200,
    samples,
    cpuUs: 0,
    waitingUs: 0,
    blockedUs: 0,
    tree: makeTree([
      { frames: ['handler', hot], samples: Math.ceil(samples * 0.8) },
      { frames: ['handler', 'helper'], samples: Math.floor(samples * 0.2) },
    ]),
  };
}
