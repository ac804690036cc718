import type { Frame } from '../../src/model/frame.js';
import { SondeError } from '../../src/errors.js';
import type { RequestOutcome, RequestRecord, SessionEndReason } from '../../src/protocol/messages.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../log.js';
import type { SampleBatch } from '../sampler/profile-samples.js';
import type { Sampler } from '../sampler/sampler.js';
import { attributeBatch } from './attribute-batch.js';
import { buildRequestRecord } from './request-record.js';
import { RequestState } from './request-state.js';
import { Session } from './session.js';
import type { SessionSpec } from './session-params.js';
import type { WorkHint } from './type-filter.js';

/** Requests reported per turn of the event loop. */
const REPORT_SLICE = 64;

export interface ProfilerOptions {
  /**
   * How often samples are collected and finished requests reported while sampling. By default the
   * sampler's own `collectEveryMs` (V8's: 100 intervals, 1-30 s; the interrupt sampler's: 100 ms). A
   * finished request is kept until the collect that has all its samples: frequent collects keep memory
   * small, and records reach the operator sooner.
   */
  collectEveryMs?: number;
  /**
   * After the sampler starts from cold, requests that start within this window are not profiled.
   * Default: the sampler's own `warmupMs` (V8's: 500 ms, because code V8 optimised before its
   * profiler started loses its own frames for a few hundred milliseconds, measured in
   * docs/adr/0001-node-sampler.md; the interrupt sampler's: none).
   */
  warmupMs?: number;
}

/** A finished request waits at most this long for its frames' function starts (Profiler.held). */
export const HOLD_MS = 2000;
/** Nor while more than this many finished requests queue behind it. */
export const HOLD_MAX = 500;
/** How often a held queue looks again. */
const HOLD_POLL_MS = 10;

/**
 * Runs sessions on this process. Dormant until a session starts: no sampler, no hooks, and
 * `begin()` returns undefined so the request path does nothing. While sessions run it starts the
 * sampler, gives each new unit of work a RequestState as its sampling context, collects samples
 * periodically, attributes them, and hands finished requests' records to the sessions that take them.
 */
export class Profiler {
  /** Running sessions; replaced, never mutated, because requests keep it as their candidate list. */
  private sessions: readonly Session[] = [];
  /** Tracked requests still running. */
  private readonly inFlight = new Set<RequestState>();
  /** Finished requests some session took, waiting for the collect that has all their samples. */
  private awaiting: RequestState[] = [];
  private readonly deadlines = new Map<Session, TimerHandle>();
  private collectTimer: TimerHandle | undefined;
  private collectSoon = false;
  private readonly log: Logger;
  private readonly collectEveryMs: number | undefined;
  private readonly warmupMs: number;
  /** Epoch µs from which new requests are profiled (the end of the sampler's warm-up). */
  private eligibleFromUs = 0;
  /** Frames sampled before their function's start was known get it at report time where known by then. */
  private readonly settle = (f: Frame): Frame => this.sampler.settle?.(f) ?? f;
  private readonly endListeners: ((s: Session) => void)[] = [];
  /** Completed requests waiting to be reported, oldest first, from `reportHead`. */
  private readonly toReport: RequestState[] = [];
  private reportHead = 0;
  private reporting = false;
  /** Since when the head of `toReport` has been held for function starts (undefined: not held). */
  private holdSince: number | undefined;
  private holdTimer: TimerHandle | undefined;

  constructor(
    private readonly sampler: Sampler,
    private readonly clock: Clock,
    log: Logger,
    options: ProfilerOptions = {},
  ) {
    this.log = log.child({ module: 'profiler' });
    this.collectEveryMs = options.collectEveryMs;
    this.warmupMs = options.warmupMs ?? sampler.warmupMs;
  }

  /** Sessions still running. */
  running(): readonly Session[] {
    return this.sessions;
  }

  /** Calls `listener` whenever a session ends, with its result set. */
  onSessionEnd(listener: (s: Session) => void): void {
    this.endListeners.push(listener);
  }

  /**
   * Starts tracking a unit of work if a running session might want it; undefined (and no further
   * cost) otherwise: no session, the sampler still warming up, or no session's type can match.
   */
  begin(hint: WorkHint): RequestState | undefined {
    const sessions = this.sessions;
    if (sessions.length === 0) return undefined;
    const now = this.clock.nowUs();
    if (now < this.eligibleFromUs) return undefined;
    let candidates = sessions;
    for (let i = 0; i < sessions.length; i++) {
      if (!sessions[i]!.filter.mightMatch(hint)) {
        candidates = sessions.filter((s) => s.filter.mightMatch(hint));
        break;
      }
    }
    if (candidates.length === 0) return undefined;
    const r = new RequestState(now, candidates);
    if (this.inFlight.size === 0) this.sampler.trackContexts(true);
    this.inFlight.add(r);
    return r;
  }

  /** Runs `fn` with `r` as the sampling context of everything it starts. */
  run<T>(r: RequestState, fn: () => T): T {
    return this.sampler.run(r, fn);
  }

  /** A tracked unit of work finished: sessions that want it take it; otherwise it is forgotten. */
  end(r: RequestState, type: string, outcome: RequestOutcome, status: number | undefined): void {
    if (r.ended || r.retired) return;
    r.endUs = this.clock.nowUs();
    r.type = type;
    r.outcome = outcome;
    r.status = status;
    for (const s of r.candidates) {
      if (s.claim(r)) {
        r.claimFor(s);
        if (s.status === 'finishing') this.scheduleCollectSoon();
      }
    }
    this.inFlight.delete(r);
    if (r.claimedBy.length === 0) r.retired = true;
    else this.awaiting.push(r);
    // The last running request out turns context tracking off.
    if (this.inFlight.size === 0) this.sampler.trackContexts(false);
  }

  /** Starts a session. A sampler that cannot start ends it at once with reason 'error'. */
  start(spec: SessionSpec): Session {
    if (this.sessions.some((s) => s.id === spec.id)) throw new SondeError('SONDE_CONFLICT', `session ${spec.id} is already running`);
    const session = new Session(spec, this.clock.now());
    const remaining = spec.deadline - this.clock.now();
    if (remaining <= 0) {
      this.finishSession(session, 'deadline');
      return session;
    }
    if (!this.sampler.running) {
      try {
        this.sampler.start(spec.sampleIntervalMs * 1000);
        this.eligibleFromUs = this.clock.nowUs() + this.warmupMs * 1000;
      } catch (err) {
        this.log.error({ err, session: spec.id }, 'sampler could not start');
        this.finishSession(session, 'error', (err as Error).message);
        return session;
      }
    } else if (this.sampler.interval > spec.sampleIntervalMs * 1000) {
      const failed = this.goFiner(session);
      if (failed !== undefined) {
        this.finishSession(session, 'error', failed);
        return session;
      }
    }
    // A session coarser than the sampler gets the ticks on its own grid (interval-grid.ts).
    session.contextMode = this.sampler.mode;
    session.sampler = this.sampler.kind;
    this.sessions = [...this.sessions, session];
    this.deadlines.set(session, this.clock.setTimeout(() => this.guard(() => this.stop(session.id, 'deadline')), remaining));
    this.scheduleCollect();
    this.log.info({ session: spec.id, request: spec.request, limit: spec.limit }, 'session started');
    return session;
  }

  /**
   * A session asks a finer interval than the sampler runs at: the sampler restarts at it, keeping the
   * contexts of requests in flight, so every session gets the interval it asked. A sampler that cannot
   * (V8's) keeps its interval, and the session says it sampled at that one. Returns why it failed when
   * the sampler is gone (every running session has then ended with that error).
   */
  private goFiner(session: Session): string | undefined {
    const askedUs = session.spec.sampleIntervalMs * 1000;
    if (this.sampler.restart) {
      try {
        this.absorb(this.sampler.restart(askedUs));
        this.log.info({ session: session.id, intervalMs: session.spec.sampleIntervalMs }, 'sampler restarted at a finer interval');
        return undefined;
      } catch (err) {
        this.log.error({ err, session: session.id }, 'sampler could not restart at a finer interval');
        if (!this.sampler.running) {
          const why = `sampler failed: ${(err as Error).message}`;
          for (const s of this.sessions) this.finishSession(s, 'error', why);
          return why;
        }
      }
    }
    session.sampleIntervalMs = this.sampler.interval / 1000;
    this.log.info({ session: session.id, asked: session.spec.sampleIntervalMs, used: session.sampleIntervalMs }, 'sharing the running sample interval');
    return undefined;
  }

  /**
   * Lowers a running session's limit (the operator's `limit`, Sonde 0.4). A session that has now taken
   * all it may ends as at its limit, with the records of what it took.
   */
  limit(id: string, limit: number): void {
    const session = this.sessions.find((s) => s.id === id);
    if (!session || !session.lower(limit)) return;
    this.log.debug({ session: id, limit }, 'session limit reached after it was lowered');
    this.stop(id, 'requests');
  }

  /** Ends a running session now, reporting every request that finished before. */
  stop(id: string, reason: SessionEndReason): void {
    const session = this.sessions.find((s) => s.id === id);
    if (!session) return;
    if (this.sampler.running) this.collect();
    // A session that has taken all it may (the operator lowered its limit) takes no more requests: its
    // records may wait for their function starts as others do (held, bounded), then it ends. A stop for
    // any other reason sends what it has now.
    const head = this.toReport[this.reportHead];
    if (reason === 'requests' && session.status === 'finishing' && head !== undefined && this.held(head)) {
      this.clock.setTimeout(() => this.stop(id, reason), HOLD_POLL_MS);
      return;
    }
    this.reportSome(Infinity);
    if (session.status !== 'ended') this.finishSession(session, session.complete ? 'requests' : reason);
  }

  /** Ends every session and stops the sampler. */
  close(): void {
    for (const s of this.sessions) this.stop(s.id, 'stopped');
    this.stopSampler();
  }

  /** Collects samples now: attributes them, reports finished requests, ends complete sessions. */
  collect(): void {
    if (!this.sampler.running) return;
    const t0 = performance.now();
    let batch: SampleBatch;
    try {
      batch = this.sampler.collect();
    } catch (err) {
      this.log.error({ err }, 'sampler failed while collecting');
      for (const s of this.sessions) this.finishSession(s, 'error', `sampler failed: ${(err as Error).message}`);
      return;
    }
    const t1 = performance.now();
    const completed = this.absorb(batch);
    this.log.debug({ samples: batch.samples.length, completed, inFlight: this.inFlight.size, collectMs: round(t1 - t0), attributeMs: round(performance.now() - t1) }, 'collected');
  }

  /**
   * Attributes a batch and queues the requests it completes for reporting; returns how many. Reports
   * are built in slices, a turn of the event loop each, so a collect that completes thousands of
   * requests does not hold the app's thread for milliseconds.
   */
  private absorb(batch: SampleBatch): number {
    const timeline = attributeBatch(batch, this.inFlight);
    const done = this.awaiting;
    this.awaiting = [];
    for (const r of done) {
      r.lastBatch = timeline;
      this.toReport.push(r);
    }
    this.scheduleReports();
    return done.length;
  }

  private scheduleReports(): void {
    if (this.reporting || this.toReport.length === 0) return;
    this.reporting = true;
    setImmediate(() => {
      this.reporting = false;
      let held = false;
      this.guard(() => {
        held = this.reportSome(REPORT_SLICE);
        for (const s of this.sessions) if (s.complete) this.finishSession(s, 'requests');
      });
      // A held queue is taken up again by its timer, not spun on every turn of the loop.
      if (!held) this.scheduleReports();
    });
  }

  /**
   * Reports up to `max` queued requests (all of them for Infinity: a session's end sends what it has).
   * Returns true when it stopped at a request held for its function starts (see `held`).
   */
  private reportSome(max: number): boolean {
    const n = Math.min(max, this.toReport.length - this.reportHead);
    let held = false;
    for (let i = 0; i < n; i++) {
      if (max !== Infinity && this.held(this.toReport[this.reportHead]!)) {
        held = true;
        break;
      }
      this.report(this.toReport[this.reportHead++]!);
    }
    if (this.reportHead === this.toReport.length) {
      this.toReport.length = 0;
      this.reportHead = 0;
    }
    return held;
  }

  /**
   * Whether `r`, the oldest request to report, waits for its frames' function starts: the interrupt
   * sampler's frames of a file whose index the agent's worker is still building (a session's first
   * ~0.1–1 s) would otherwise go without them. Bounded: the queue waits at most HOLD_MS from when it
   * started waiting and at most HOLD_MAX requests deep, then flows without the starts (the model joins
   * such frames to their function by line: src/model/by-function.ts). Order is kept (FIFO).
   */
  private held(r: RequestState): boolean {
    const isPending = this.sampler.isPending?.bind(this.sampler);
    if (isPending === undefined || !this.sampler.hasPending?.() || !r.own.some((s) => s.stack.some(isPending))) {
      this.holdSince = undefined;
      return false;
    }
    const now = this.clock.now();
    this.holdSince ??= now;
    if (now - this.holdSince >= HOLD_MS || this.toReport.length - this.reportHead > HOLD_MAX) return false;
    if (this.holdTimer === undefined) {
      this.holdTimer = this.clock.setTimeout(() => {
        this.holdTimer = undefined;
        this.scheduleReports();
      }, HOLD_POLL_MS);
    }
    return true;
  }

  private report(r: RequestState): void {
    r.retired = true;
    r.lastBatch?.charge(r);
    r.lastBatch = undefined;
    // One record per interval among the sessions that took it (usually one).
    const byInterval = new Map<number, RequestRecord>();
    for (const s of r.claimedBy) {
      let record = byInterval.get(s.sampleIntervalUs);
      if (!record) {
        record = buildRequestRecord(r, s.sampleIntervalUs, this.settle);
        byInterval.set(s.sampleIntervalUs, record);
      }
      (s as Session).deliver(record);
    }
  }

  private finishSession(session: Session, reason: SessionEndReason, error?: string): void {
    const timer = this.deadlines.get(session);
    if (timer) this.clock.clearTimeout(timer);
    this.deadlines.delete(session);
    this.sessions = this.sessions.filter((s) => s !== session);
    session.finish(reason, this.clock.now(), error);
    // Requests only ended sessions could have wanted (a long poll, say) are let go now, not when the
    // sampler stops: they would hold context tracking on for nothing.
    for (const r of this.inFlight) {
      if (r.candidates.every((c) => c.status === 'ended')) {
        r.retired = true;
        this.inFlight.delete(r);
      }
    }
    if (this.inFlight.size === 0) this.sampler.trackContexts(false);
    this.log.info({ session: session.id, reason, requests: session.reported }, 'session ended');
    if (this.sessions.length === 0) this.stopSampler();
    for (const l of this.endListeners) this.guard(() => l(session));
  }

  private stopSampler(): void {
    if (this.collectTimer) this.clock.clearTimeout(this.collectTimer);
    this.collectTimer = undefined;
    if (this.sampler.running) {
      try {
        this.sampler.stop();
      } catch (err) {
        this.log.error({ err }, 'sampler failed to stop');
      }
    }
    for (const r of this.inFlight) r.retired = true;
    for (const r of this.awaiting) r.retired = true;
    this.inFlight.clear();
    this.awaiting = [];
    this.toReport.length = 0;
    this.reportHead = 0;
  }

  private scheduleCollect(): void {
    if (this.collectTimer || !this.sampler.running) return;
    const every = this.collectEveryMs ?? this.sampler.collectEveryMs;
    this.collectTimer = this.clock.setTimeout(() => {
      this.collectTimer = undefined;
      this.guard(() => this.collect());
      this.scheduleCollect();
    }, every);
  }

  /** A session has its N: collect on the next turn rather than inside the app's response handling. */
  private scheduleCollectSoon(): void {
    if (this.collectSoon) return;
    this.collectSoon = true;
    setImmediate(() => {
      this.collectSoon = false;
      this.guard(() => this.collect());
    });
  }

  /** Runs agent work from a timer: nothing escapes into the app. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err }, 'profiler error');
    }
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
