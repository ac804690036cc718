import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { SondeError } from '../../src/errors.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { ContextHook } from './context-hook.js';
import { SourceMapResolver } from './source-maps.js';
import { emptyBatch, FrameCache, type SampleBatch, type TimeProfile, timeProfileToSamples } from './profile-samples.js';
import type { ContextMode, Sampler } from './sampler.js';

/**
 * The V8 sampler: `@datadog/pprof`'s wall profiler, which runs V8's CPU profiler and tags each sample
 * with the current context. The agent's fallback where the interrupt sampler's addon is not built for
 * the runtime, and on request (`SONDE_SAMPLER=v8`); docs/adr/0001-node-sampler.md and 0003. The only
 * file that touches this native interface. It drives the native profiler class directly rather than
 * through the library's `time` module: that module turns every collect into a pprof profile (a
 * location key string, a stack copy and a Sample object per node), which the agent would only read
 * back; the raw call tree with per-sample contexts is what it needs.
 *
 * Per-sample context: the profiler reads "the current context" at the instant of each sample, so a
 * sample belongs to the request whose code was on the thread, exactly. In `cped` mode each request's
 * context is wrapped in the profiler's context holder (what its signal handler can read) and carried
 * by an AsyncLocalStorage; in `hooks` mode a ContextHook sets the profiler's current context.
 */
/** The native wall profiler (`TimeProfiler` in @datadog/pprof's binding), as far as the agent uses it. */
interface NativeWallProfiler {
  start(): void;
  /** Ends the current profile and returns it; with `restart` a new one has already begun. */
  stop(restart: boolean): TimeProfile;
  dispose(): void;
  /** The context samples are tagged with in hooks mode. */
  context: object | undefined;
  /** Wraps a context for AsyncContextFrame mode (what the signal handler reads). */
  createContextHolder(context: object): object;
  /** Non-zero when V8's profiler thread may be stuck (a known V8 bug): the profiler must be restarted. */
  v8ProfilerStuckEventLoopDetected(): number;
}
type NativeWallProfilerClass = new (options: Record<string, unknown>) => NativeWallProfiler;

const require = createRequire(import.meta.url);

/** Loads the addon on first use, never at import: an idle agent must not load native code it may not need. */
function loadPprof(): { TimeProfiler: NativeWallProfilerClass; acf: boolean } {
  const binding = require('@datadog/pprof/out/src/time-profiler-bindings.js') as { TimeProfiler?: NativeWallProfilerClass };
  if (typeof binding.TimeProfiler !== 'function') throw new Error('@datadog/pprof has no TimeProfiler binding (unsupported version)');
  let acf = false;
  try {
    // An internal module; if it moves, fall back to hooks, which work with or without AsyncContextFrame.
    const probe = require('@datadog/pprof/out/src/async-context-frame.js') as { isAsyncContextFrameActive(): boolean };
    acf = probe.isAsyncContextFrameActive();
  } catch {
    acf = false;
  }
  return { TimeProfiler: binding.TimeProfiler, acf };
}

export interface WallSamplerOptions {
  /** See AgentOptions.v8BugWorkaround. Default false. */
  v8BugWorkaround?: boolean;
}

/** Starts, collects and stops V8's sampler, and attaches request contexts to async work. */
export class WallSampler implements Sampler {
  readonly kind = 'v8' as const;
  /** V8's profiler starts by logging every compiled function and compiles differently for a while. */
  readonly warmupMs = 500;
  private TimeProfiler: NativeWallProfilerClass | undefined;
  private profiler: NativeWallProfiler | undefined;
  /** AsyncContextFrame mode: the storage whose frames carry the context holders the profiler reads. */
  private store: AsyncLocalStorage<object> | undefined;
  private contextMode: ContextMode = 'hooks';
  private started = false;
  private intervalUs = 0;
  private lastCollectUs = 0;
  private readonly hook: ContextHook;
  private readonly log: Logger;
  private readonly frames: FrameCache;

  constructor(
    private readonly clock: Clock,
    log: Logger,
    /** Frames to leave out of stacks (the agent's own wrappers). */
    hideFile: (file: string) => boolean = () => false,
    private readonly options: WallSamplerOptions = {},
  ) {
    this.log = log.child({ module: 'sampler' });
    this.frames = new FrameCache(hideFile, undefined, new SourceMapResolver());
    this.hook = new ContextHook(clock, (context) => {
      if (!this.started) return;
      try {
        this.profiler!.context = context;
      } catch {
        // Never let a profiler hiccup escape: inside an async hook it would abort the process.
      }
    });
  }

  get running(): boolean {
    return this.started;
  }

  get mode(): ContextMode {
    return this.contextMode;
  }

  /** Whether the context hook is on (hooks mode only; it outlives the tracked requests until its off-check). */
  get contextHookOn(): boolean {
    return this.hook.isOn;
  }

  /**
   * 100 sample intervals, at least 1 s and at most 30 s (1 s at 1 ms and at 10 ms). A collect restarts
   * V8's profile and translates it into JavaScript objects, a stall that grows with the window (at 1 ms,
   * every 1 s took 5.4-7.0 ms per collect and every 2 s 9-16 ms); fewer collects would keep finished
   * requests in memory longer.
   */
  get collectEveryMs(): number {
    return Math.min(30_000, Math.max(1000, (100 * this.interval) / 1000));
  }

  /** The interval the sampler runs at, in microseconds (0 when stopped). */
  get interval(): number {
    return this.started ? this.intervalUs : 0;
  }

  /** Starts sampling every `intervalUs`. Throws SONDE_SAMPLER_FAILED with the cause when it cannot. */
  start(intervalUs: number): void {
    if (this.started) throw new Error('sampler already started');
    try {
      if (!this.TimeProfiler) {
        const loaded = loadPprof();
        this.TimeProfiler = loaded.TimeProfiler;
        this.contextMode = loaded.acf ? 'cped' : 'hooks';
      }
      // A new storage per start, never reused: frames kept by long-lived resources (a pool's socket
      // opened during a profiled request) can still hold context holders made by an earlier profiler,
      // whose native side was freed when it was disposed; under a new key no later profiler reads them.
      const store = this.contextMode === 'cped' ? new AsyncLocalStorage<object>() : undefined;
      const profiler = new this.TimeProfiler({
        intervalMicros: intervalUs,
        durationMillis: 3_600_000,
        lineNumbers: false,
        withContexts: true,
        // The library's default waits for a profiling signal before and after each restart of the
        // profile (every collect) to make a V8 race less likely; that is ~1.5 intervals with the app's
        // thread asleep per collect (measured: 14 ms per collect at 10 ms, 0.2-0.8 ms without). The
        // detection below runs either way, and a stuck profiler is restarted.
        workaroundV8Bug: this.options.v8BugWorkaround ?? false,
        collectCpuTime: true,
        collectAsyncId: false,
        useCPED: store !== undefined,
        CPEDKey: store,
        isMainThread,
      });
      this.profiler = profiler;
      this.store = store;
      profiler.start();
    } catch (err) {
      // Whatever was made before the failure (the native profiler, its context storage) goes.
      this.dispose();
      throw new SondeError('SONDE_SAMPLER_FAILED', (err as Error)?.message ?? String(err), { cause: err });
    }
    // A profiling signal landing while the process tears down can crash it: stop first.
    process.once('exit', this.disposeOnExit);
    this.started = true;
    this.intervalUs = intervalUs;
    this.lastCollectUs = this.clock.nowUs();
    this.log.debug({ intervalUs, mode: this.contextMode }, 'sampler started');
  }

  /** Only hooks mode has anything to switch; with AsyncContextFrame propagation is free. */
  trackContexts(on: boolean): void {
    if (this.contextMode !== 'hooks' || !this.started) return;
    this.hook.track(on);
  }

  /**
   * Runs `fn` with `context` as the current context of everything it starts, synchronously or later.
   * Outside a running sampler it just runs `fn`. In hooks mode, call `trackContexts(true)` first.
   */
  run<R>(context: object, fn: () => R): R {
    if (!this.started) return fn();
    if (this.store !== undefined) return this.store.run(this.profiler!.createContextHolder(context), fn);
    return this.hook.run(context, fn);
  }

  collect(): SampleBatch {
    return this.take(true);
  }

  /** The last samples; the sampler, its hooks and its context storage are gone afterwards. */
  stop(): SampleBatch {
    if (!this.started) return emptyBatch(this.lastCollectUs);
    // Hooks first: they call into the profiler, which must not be asked anything once stopped.
    this.hook.disable();
    let batch: SampleBatch;
    try {
      batch = this.take(false);
    } finally {
      this.dispose();
    }
    this.log.debug('sampler stopped');
    return batch;
  }

  private take(restart: boolean): SampleBatch {
    if (!this.started) throw new Error('sampler not started');
    const profiler = this.profiler!;
    const profile = profiler.stop(restart);
    if (restart && profiler.v8ProfilerStuckEventLoopDetected() > 0) {
      // V8's profiler thread can get stuck in a loop and return empty profiles; a full restart clears it.
      this.log.warn('V8 profiler thread stuck; restarting the profiler');
      profiler.stop(false);
      profiler.start();
    }
    const endUs = this.clock.nowUs();
    const batch = timeProfileToSamples(profile, this.lastCollectUs, endUs, this.intervalUs, this.frames);
    this.lastCollectUs = endUs;
    return batch;
  }

  private readonly disposeOnExit = (): void => {
    if (!this.started) return;
    try {
      this.hook.disable();
      this.profiler!.stop(false);
    } catch {
      // The process is exiting; nothing to report to.
    }
    this.dispose();
  };

  /** Releases the native profiler and its context storage; the sampler can start again afterwards. */
  private dispose(): void {
    process.off('exit', this.disposeOnExit);
    try {
      this.profiler?.dispose();
    } catch (err) {
      this.log.warn({ err }, 'could not dispose of the profiler');
    }
    this.store?.disable();
    this.profiler = undefined;
    this.store = undefined;
    this.started = false;
  }
}
