import type { CallTree } from '../../src/model/call-tree.js';
import { emptyTree } from '../../src/model/call-tree-builder.js';
import { mergeTrees } from '../../src/model/merge.js';
import { deserializeTree } from '../../src/model/serialized.js';
import type { RequestRecord, SessionEndReason } from '../../src/protocol/messages.js';
import type { Claimant, RequestState } from './request-state.js';
import type { SessionSpec } from './session-params.js';
import { TypeFilter } from './type-filter.js';

/** What a session hands back when it ends. */
export interface LocalSessionResult {
  id: string;
  request: string;
  reason: SessionEndReason;
  /** True unless N matching requests were profiled. */
  partial: boolean;
  /** Why, when reason is 'error'. */
  error?: string;
  /** One record per profiled request, in the order they finished (empty when records were not retained). */
  requests: RequestRecord[];
  /** Requests profiled (equal to `requests.length` when records are retained). */
  reported: number;
  /** The merged tree of every profiled request (empty when records were not retained). */
  tree: CallTree;
  /** Own samples over all requests. */
  samples: number;
  /** Epoch milliseconds. */
  startedAt: number;
  endedAt: number;
  /** The interval the sampler actually ran at (a session that joins a running sampler shares its interval). */
  sampleIntervalMs: number;
  /**
   * How request contexts followed async work: `cped` (AsyncContextFrame: Node 24, or 22 with
   * --experimental-async-context-frame; free) or `hooks` (an async hook; a cost on every callback).
   */
  contextMode?: 'cped' | 'hooks';
  /** Which sampler took the samples (docs/adr/0003-interrupt-sampler.md). */
  sampler?: 'interrupt' | 'v8';
}

export type SessionStatus = 'running' | 'finishing' | 'ended';

/**
 * One session on this agent: which requests it takes (matching type, started after it, the first N to
 * finish), the records it has received, and its result. The profiler drives it; it holds no timers.
 */
export class Session implements Claimant {
  status: SessionStatus = 'running';
  /** Requests taken; their records may still be on the way. */
  taken = 0;
  private awaiting = 0;
  readonly records: RequestRecord[] = [];
  /** Records delivered so far. */
  reported = 0;
  samples = 0;
  /**
   * The interval this session's samples come at: the one it asked, or the sampler's when the sampler ran
   * coarser and could not go finer (the V8 sampler cannot restart). Set by the profiler at the start.
   */
  sampleIntervalMs: number;
  /** Set by the profiler when the session starts sampling. */
  contextMode: 'cped' | 'hooks' | undefined;
  sampler: 'interrupt' | 'v8' | undefined;
  private readonly listeners: ((record: RequestRecord) => void)[] = [];
  private resolve!: (r: LocalSessionResult) => void;
  readonly done: Promise<LocalSessionResult>;
  result: LocalSessionResult | undefined;
  /** Rules out, at their start, requests that cannot be of this session's type. */
  readonly filter: TypeFilter;
  /** Requests this session may take: `spec.limit`, lowered by the operator's `limit` (Sonde 0.4), never raised. */
  limit: number;
  /**
   * Called (on the request's path: it must only schedule work) after each request taken once at most
   * `nearCap` remain under the limit, so the operator hears the count while it matters most.
   */
  onNearCap: (() => void) | undefined;
  nearCap = 0;

  constructor(
    readonly spec: SessionSpec,
    /** Epoch milliseconds. */
    readonly startedAt: number,
  ) {
    this.sampleIntervalMs = spec.sampleIntervalMs;
    this.limit = spec.limit;
    this.filter = new TypeFilter(spec.request);
    this.done = new Promise((r) => (this.resolve = r));
  }

  get id(): string {
    return this.spec.id;
  }

  get sampleIntervalUs(): number {
    return this.sampleIntervalMs * 1000;
  }

  /** Takes a finished request if it matches and the session still needs requests. */
  claim(request: RequestState): boolean {
    if (this.status !== 'running' || request.type !== this.spec.request) return false;
    this.taken++;
    this.awaiting++;
    if (this.taken >= this.limit) this.status = 'finishing';
    if (this.onNearCap && this.limit - this.taken <= this.nearCap) this.onNearCap();
    return true;
  }

  /**
   * Lowers the limit (never raises it). True when the session has now taken all it may: it takes no
   * more, and ends once the records of what it took are in.
   */
  lower(limit: number): boolean {
    if (this.status !== 'running' || limit >= this.limit) return false;
    this.limit = Math.max(1, limit);
    if (this.taken < this.limit) return false;
    this.status = 'finishing';
    return true;
  }

  /** A taken request's record, once all its samples are in. */
  deliver(record: RequestRecord): void {
    if (this.status === 'ended') return;
    this.awaiting--;
    this.reported++;
    if (this.spec.retain !== false) this.records.push(record);
    this.samples += record.samples;
    for (const l of this.listeners) {
      try {
        l(record);
      } catch {
        // A listener's failure is the listener's; the session goes on.
      }
    }
  }

  /** N requests taken and all of their records delivered. */
  get complete(): boolean {
    return this.status === 'finishing' && this.awaiting === 0;
  }

  /** Calls `listener` with each record as its request finishes. */
  onRecord(listener: (record: RequestRecord) => void): void {
    this.listeners.push(listener);
  }

  /** Ends the session (once) and resolves `done`. */
  finish(reason: SessionEndReason, endedAt: number, error?: string): LocalSessionResult {
    if (this.result) return this.result;
    this.status = 'ended';
    const result: LocalSessionResult = {
      id: this.id,
      request: this.spec.request,
      reason,
      partial: reason !== 'requests',
      requests: this.records,
      reported: this.reported,
      tree: this.records.length > 0 ? mergeTrees(this.records.map((r) => deserializeTree(r.tree))) : emptyTree(),
      samples: this.samples,
      startedAt: this.startedAt,
      endedAt,
      sampleIntervalMs: this.sampleIntervalMs,
      ...(this.contextMode === undefined ? {} : { contextMode: this.contextMode }),
      ...(this.sampler === undefined ? {} : { sampler: this.sampler }),
    };
    if (error !== undefined) result.error = error;
    this.result = result;
    this.resolve(result);
    return result;
  }
}
