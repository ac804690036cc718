import type { RequestOutcome } from '../../src/protocol/messages.js';
import type { RawSample } from '../sampler/profile-samples.js';
import { type IntervalTally, talliesFor } from './interval-grid.js';

/** The sessions a request may count for: those already running when it started. */
export interface Claimant {
  /** 'finishing' once it has taken its last request. */
  readonly status: 'running' | 'finishing' | 'ended';
  /** Whether this finished request counts for the session; if so the session has taken it. */
  claim(request: RequestState): boolean;
  /** The interval the session samples at, µs: it gets the ticks on that grid (interval-grid.ts). */
  readonly sampleIntervalUs: number;
}

let counter = 0;
/** The process part of request ids, made once: ids are built only when a record is. */
const PID = process.pid.toString(36);
/**
 * Shared by every request until it has an entry of its own (never written to): at coarse intervals most
 * profiled requests get no sample and no second session, and an empty array each would be garbage.
 */
const NONE: never[] = [];

/**
 * One unit of work (an HTTP request, a transaction) that started while a session was sampling. It is
 * the context the sampler attaches to the work's async continuations, so every sample taken while its
 * code runs points back here. It collects its own samples and how long it waited or was held up by
 * other work, until its end is known and every sample of its lifetime has been collected.
 */
export class RequestState {
  /** Numbers this request within the process; its id is derived from it when reported. */
  readonly seq: number;
  /** Epoch microseconds. */
  endUs = Number.POSITIVE_INFINITY;
  type = '';
  outcome: RequestOutcome = 'ok';
  status: number | undefined;
  /** Samples of the request's own code (add with `addOwn`). */
  own: readonly RawSample[] = NONE;
  waitingSamples = 0;
  waitingUs = 0;
  blockedSamples = 0;
  blockedUs = 0;
  /** Own samples inside the request's lifetime within the batch being attributed (scratch). */
  ownInWindow = 0;
  /**
   * The waiting and held-up ticks on each candidate session's grid, one tally per distinct interval
   * (usually one): the fields above count every tick of the sampler.
   */
  readonly tallies: readonly IntervalTally[];
  /** Sessions that took this request when it finished (add with `claimFor`). */
  claimedBy: readonly Claimant[] = NONE;
  /** No session wants it, or it was reported: later samples of its context are ignored. */
  retired = false;
  /** The batch its last stretch of life is charged against when it is reported. */
  lastBatch: { charge(r: RequestState): void } | undefined;

  constructor(
    /** Epoch microseconds. */
    readonly startUs: number,
    readonly candidates: readonly Claimant[],
  ) {
    this.seq = ++counter;
    this.tallies = candidates.length === 0 ? NONE : talliesFor(candidates.map((c) => c.sampleIntervalUs));
  }

  /** The tally of a session's interval (every tick's counts when it has none). */
  tallyFor(intervalUs: number): IntervalTally {
    for (const t of this.tallies) if (t.intervalUs === intervalUs) return t;
    return { intervalUs: 0, waitingSamples: this.waitingSamples, waitingUs: this.waitingUs, blockedSamples: this.blockedSamples, blockedUs: this.blockedUs, ownInWindow: 0 };
  }

  /** Unique within the process, e.g. `1a2b-3c`. */
  get id(): string {
    return `${PID}-${this.seq.toString(36)}`;
  }

  addOwn(sample: RawSample): void {
    if (this.own === NONE) this.own = [sample];
    else (this.own as RawSample[]).push(sample);
  }

  claimFor(session: Claimant): void {
    if (this.claimedBy === NONE) this.claimedBy = [session];
    else (this.claimedBy as Claimant[]).push(session);
  }

  get ended(): boolean {
    return this.endUs !== Number.POSITIVE_INFINITY;
  }
}
