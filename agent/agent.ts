import { randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PodIdentity, RequestRecord, RequestTypeStats } from '../src/protocol/messages.js';
import { Catalogue } from './catalogue/catalogue.js';
import { systemClock, type Clock } from './clock.js';
import { AgentLink, type LinkTuning } from './connection/agent-link.js';
import { credentialRefusal } from './connection/transport-security.js';
import { createRootLogger, type Logger, type LogLevel } from './log.js';
import { Profiler } from './profiling/profiler.js';
import type { LocalSessionResult, Session } from './profiling/session.js';
import { checkSessionParams, type LocalSessionParams } from './profiling/session-params.js';
import { installHttpHook, onFirstListening } from './requests/http-hook.js';
import { RequestTracker } from './requests/request-tracker.js';
import { watchFrameworkRoutes } from './requests/route-sources.js';
import { InterruptSampler } from './sampler/interrupt-sampler.js';
import { addonPath } from './sampler/native-addon.js';
import type { Sampler } from './sampler/sampler.js';
import { WallSampler } from './sampler/wall-sampler.js';
import { processAppRoot } from './app-root.js';

/** How to start an agent. Every field is optional; `readAgentConfig(process.env)` gives the injected defaults. */
export interface AgentOptions {
  /** Operator WebSocket URL; without one the agent serves local sessions only. */
  url?: string;
  token?: string;
  tokenFile?: string;
  /** PEM certificates to trust on `wss://` instead of the system's: the operator's CA (`SONDE_CA_CERT`). */
  ca?: string;
  pod?: Partial<PodIdentity>;
  labels?: Record<string, string>;
  logLevel?: LogLevel;
  /** A logger to use instead of making one (its children are the agent's modules). */
  logger?: Logger;
  clock?: Clock;
  /** How often samples are collected while sessions run (default: the sampler's own: 100 ms for the interrupt sampler, 100 sample intervals and 1–30 s for V8's). */
  collectEveryMs?: number;
  /** Requests starting this soon after the sampler starts from cold are not profiled (default: the sampler's own, 0 for the interrupt sampler, 500 ms for V8's; see the ADRs). */
  samplerWarmupMs?: number;
  /**
   * V8's sampler only. Wait for a profiling signal around each collect's profile restart, as @datadog/pprof does by default
   * to make a V8 bug (its profiler thread stuck, profiles empty) less likely. Off by default: the wait
   * blocks the app's thread ~1.5 sample intervals per collect (~15 ms at 10 ms), and a stuck profiler is
   * detected at the next collect and restarted either way. Env: `SONDE_V8_BUG_WORKAROUND=1`.
   */
  v8BugWorkaround?: boolean;
  /**
   * Which sampler: `interrupt` (Sonde's own, agent/native/), `v8` (V8's CPU profiler through
   * @datadog/pprof), or `auto` (default): interrupt where its addon is built for this runtime, else v8.
   * docs/adr/0003-interrupt-sampler.md says why and what each costs. Env: `SONDE_SAMPLER`.
   */
  sampler?: 'auto' | 'interrupt' | 'v8';
  /**
   * The application's root directory, sent to the operator (hello `agent.root`) so paths show relative
   * to it. Default: the nearest `package.json` above the main module, else the working directory
   * (app-root.ts), found when the agent first dials.
   */
  appRoot?: string;
  /** Pacing of the operator link (reconnect backoff, catalogue and progress intervals); defaults suit production. */
  link?: LinkTuning;
  /**
   * When to dial the operator: `start` (default) at once; `serving` when the process first serves:
   * an http(s) server of it starts listening, or its first `transaction()`. The injected agent uses
   * `serving` (start-from-env.ts): NODE_OPTIONS reaches every Node process in the container, and a
   * wrapper that never serves (`npm start`, a build step) must not connect as the pod beside the app.
   */
  connectWhen?: 'start' | 'serving';
}

/** A running local session. */
export interface LocalSessionHandle {
  id: string;
  /** Resolves when the session ends, for whatever reason; never rejects. */
  done: Promise<LocalSessionResult>;
  /** Ends the session now; requests finished so far are in the result, marked partial. */
  stop(): void;
  /** Calls `listener` with each profiled request as soon as it finishes. */
  onRequest(listener: (record: RequestRecord) => void): void;
}

/** The in-process agent. */
export interface Agent {
  readonly pod: PodIdentity;
  /** The request types seen so far, with counts, errors and latency percentiles. */
  catalogue(): RequestTypeStats[];
  /** Starts a session in this process. Throws SONDE_INVALID_SPEC (every problem listed) on bad parameters. */
  startSession(params: LocalSessionParams): LocalSessionHandle;
  /** Runs `fn` as one unit of work of type `type`. */
  transaction<T>(type: string, fn: () => T): T;
  /** Ends sessions, disconnects, and leaves the app as it was before the agent (apart from an inert hook). */
  close(): Promise<void>;
}

const AGENT_DIR = dirname(fileURLToPath(import.meta.url));
/** The agent's own wrappers and the sampler's JavaScript say nothing about the app: keep them out of stacks. */
function isAgentFile(file: string): boolean {
  return file.startsWith(AGENT_DIR) || file.includes('/@datadog/pprof/');
}

function makeSampler(options: AgentOptions, clock: Clock, log: Logger): Sampler {
  const kind = options.sampler ?? 'auto';
  if (kind === 'interrupt' || (kind === 'auto' && addonPath() !== undefined)) return new InterruptSampler(clock, log, isAgentFile);
  if (kind === 'auto') log.warn({ abi: process.versions.modules }, "no interrupt sampler built for this runtime: using V8's sampler");
  return new WallSampler(clock, log, isAgentFile, { v8BugWorkaround: options.v8BugWorkaround });
}

let current: AgentImpl | undefined;

/** The running agent, if any. */
export function currentAgent(): Agent | undefined {
  return current;
}

/**
 * Starts the agent: classification of every request from now on, and sessions on demand. One agent per
 * process; a second call returns the running one.
 */
export function startAgent(options: AgentOptions = {}): Agent {
  if (current) {
    current.log.warn('startAgent called while an agent runs; returning the running agent');
    return current;
  }
  current = new AgentImpl(options);
  return current;
}

class AgentImpl implements Agent {
  readonly pod: PodIdentity;
  readonly log: Logger;
  private readonly clock: Clock;
  private readonly cat: Catalogue;
  private readonly profiler: Profiler;
  private readonly tracker: RequestTracker;
  private readonly undo: (() => void)[] = [];
  private readonly link: AgentLink | undefined;
  private closed = false;
  /** The link was started (at once, or when the process first served). */
  private connected = false;

  constructor(options: AgentOptions) {
    this.log = options.logger ?? createRootLogger(options.logLevel ?? 'warn');
    this.clock = options.clock ?? systemClock;
    this.pod = { name: options.pod?.name ?? 'local', namespace: options.pod?.namespace ?? 'default', uid: options.pod?.uid ?? '' };
    this.cat = new Catalogue(this.clock);
    const sampler = makeSampler(options, this.clock, this.log);
    this.profiler = new Profiler(sampler, this.clock, this.log, {
      ...(options.collectEveryMs === undefined ? {} : { collectEveryMs: options.collectEveryMs }),
      ...(options.samplerWarmupMs === undefined ? {} : { warmupMs: options.samplerWarmupMs }),
    });
    this.tracker = new RequestTracker(this.cat, this.profiler, this.log);
    this.undo.push(installHttpHook(this.tracker), watchFrameworkRoutes());
    const refusal = options.url ? credentialRefusal(options.url, options.tokenFile) : undefined;
    if (refusal !== undefined) this.log.error({ url: options.url }, `${refusal}; not connecting`);
    if (options.url && refusal === undefined) {
      this.link = new AgentLink({
        url: options.url,
        token: options.token,
        tokenFile: options.tokenFile,
        ca: options.ca,
        pod: this.pod,
        labels: options.labels ?? {},
        clock: this.clock,
        log: this.log,
        catalogue: this.cat,
        profiler: this.profiler,
        root: () => processAppRoot(options.appRoot),
        ...options.link,
      });
      if (options.connectWhen === 'serving') this.undo.push(onFirstListening(() => this.connect()));
      else this.connect();
    }
    this.log.info({ pod: this.pod, url: options.url }, 'agent started');
  }

  catalogue(): RequestTypeStats[] {
    return this.cat.snapshot();
  }

  startSession(params: LocalSessionParams): LocalSessionHandle {
    if (this.closed) throw new Error('the agent is closed');
    const p = checkSessionParams(params);
    const session: Session = this.profiler.start({
      id: p.id ?? randomUUID(),
      request: p.request,
      limit: Math.min(p.requests, p.maxRequests ?? p.requests),
      deadline: this.clock.now() + p.durationMs,
      sampleIntervalMs: p.sampleIntervalMs,
    });
    return {
      id: session.id,
      done: session.done,
      stop: () => this.profiler.stop(session.id, 'stopped'),
      onRequest: (listener) => session.onRecord(listener),
    };
  }

  transaction<T>(type: string, fn: () => T): T {
    if (!this.connected) this.connect();
    return this.tracker.transaction(type, fn);
  }

  /** Dials the operator, once (see AgentOptions.connectWhen). */
  private connect(): void {
    if (this.connected || this.closed || !this.link) return;
    this.connected = true;
    this.link.start();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      this.profiler.close();
      await this.link?.close();
    } finally {
      for (const u of this.undo) u();
      if (current === this) current = undefined;
    }
  }
}
