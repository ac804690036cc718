import type { Frame } from '../../src/model/frame.js';
import type { SampleBatch } from './profile-samples.js';

/**
 * How the current request's context follows async work:
 * - `cped`: with AsyncContextFrame (Node 24 by default, Node 22 with `--experimental-async-context-frame`)
 *   it rides in the continuation-preserved embedder data V8 carries through promises and callbacks;
 *   the agent sets it once per request.
 * - `hooks`: before that, an async hook carries it (agent/sampler/context-hook.ts).
 */
export type ContextMode = 'cped' | 'hooks';

/** Which sampler takes the samples: see docs/adr/0003-interrupt-sampler.md. */
export type SamplerKind = 'interrupt' | 'v8';

/** What the profiler needs of a sampler: start, attach request contexts, collect, stop. */
export interface Sampler {
  readonly kind: SamplerKind;
  readonly running: boolean;
  readonly mode: ContextMode;
  /** The interval the sampler runs at, in microseconds (0 when stopped). */
  readonly interval: number;
  /** Requests starting this soon after a start from cold are not profiled (the sampler's own start-up). */
  readonly warmupMs: number;
  /** How often the profiler should collect, by default, while sampling (ProfilerOptions.collectEveryMs). */
  readonly collectEveryMs: number;
  /** Starts sampling every `intervalUs`. Throws SONDE_SAMPLER_FAILED with the cause when it cannot. */
  start(intervalUs: number): void;
  /**
   * Where supported: samples at `intervalUs` from now on, keeping the contexts of work already in flight
   * (a session asking a finer interval joins a running one). Returns the samples taken at the old
   * interval. Throws SONDE_SAMPLER_FAILED when it cannot (the sampler is then stopped).
   */
  restart?(intervalUs: number): SampleBatch;
  /** Whether contexts must follow async work (on while requests with a context are in flight). */
  trackContexts(on: boolean): void;
  /** Runs `fn` with `context` as the current context of everything it starts, synchronously or later. */
  run<R>(context: object, fn: () => R): R;
  /** The samples since the last collect; sampling goes on. */
  collect(): SampleBatch;
  /** The last samples; the sampler and its context tracking are gone afterwards. */
  stop(): SampleBatch;
  /**
   * Where frames may be made before their function's start is known (the interrupt sampler's, while
   * the file's index is built off-thread): the frame with its start if known by now, else `f`.
   */
  settle?(f: Frame): Frame;
  /** Whether any frame waits for its function's start (cheap: checked before `isPending`). */
  hasPending?(): boolean;
  /** Whether `f` still waits for its function's start (its file's index is being built). */
  isPending?(f: Frame): boolean;
}
