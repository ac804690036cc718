import { AsyncLocalStorage, createHook, executionAsyncResource, type AsyncHook } from 'node:async_hooks';
import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { SondeError } from '../../src/errors.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../log.js';
import { FrameCache, type SampleBatch, type TimeProfile, timeProfileToSamples } from './profile-samples.js';

/**
 * The only file that touches the sampler's native interface (`@datadog/pprof`'s wall profiler); see
 * docs/adr/0001-node-sampler.md for why this sampler and not the inspector's. It drives the native
 * profiler class directly rather than through the library's `time` module: that module turns every
 * collect into a pprof profile (a location key string, a stack copy and a Sample object per node),
 * which the agent would only read back; the raw call tree with per-sample contexts is what it needs.
 *
 * Per-sample context: the profiler reads "the current context" at the instant of each sample, so a
 * sample belongs to the request whose code was on the thread, exactly. How the current context follows
 * a request across awaits depends on the runtime:
 * - `cped`: with AsyncContextFrame (Node 24 by default) the context rides in the continuation-preserved
 *   embedder data that V8 carries through promises and callbacks for free; the agent sets it once per
 *   request with `runWithContext`.
 * - `hooks`: before that, one async hook carries it: `init` stamps each new async resource with the
 *   context of the code creating it, `before` makes a resource's context current when its callback
 *   runs. There is no `after`: it would double the hook's calls, and what runs between callbacks is
 *   either idle time (recognised as such whatever the context) or the runtime's own plumbing. The hook
 *   costs a little on every callback and promise, so it is on only while requests with a context are
 *   in flight (`trackContexts`). It is not turned off the moment none is: the first time none is, a
 *   check is set HOOK_LINGER_MS ahead, and the hook goes off only if that check finds none in flight.
 *   Turning an async hook on or off rebuilds Node's promise hooks, which under steady traffic
 *   (requests in flight dropping to zero between arrivals, thousands of times a second) cost more than
 *   the hook itself; this way it happens at most about once per HOOK_LINGER_MS.
 */
export type ContextMode = 'cped' | 'hooks';

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

/** How long after tracked requests last ran out the hook's off-check comes (it stays on if any is in flight then). */
export const HOOK_LINGER_MS = 1000;

/** Where hooks mode keeps a resource's context (a symbol on the resource, as AsyncLocalStorage does). */
const CONTEXT = Symbol('sonde.context');
type Stamped = { [CONTEXT]?: object };

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

/** Starts, collects and stops the wall-clock sampler, and attaches request contexts to async work. */
export class WallSampler {
  private TimeProfiler: NativeWallProfilerClass | undefined;
  private profiler: NativeWallProfiler | undefined;
  /** AsyncContextFrame mode: the storage whose frames carry the context holders the profiler reads. */
  private store: AsyncLocalStorage<object> | undefined;
  private contextMode: ContextMode = 'hooks';
  private started = false;
  private intervalUs = 0;
  private lastCollectUs = 0;
  private hook: AsyncHook | undefined;
  private hookOn = false;
  /** Whether tracked requests are in flight (the hook's reason to be on). */
  private contextsWanted = false;
  private lingerTimer: TimerHandle | undefined;
  /** The context last handed to the profiler in hooks mode, to skip redundant native calls. */
  private current: object | undefined;
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
    this.frames = new FrameCache(hideFile);
  }

  get running(): boolean {
    return this.started;
  }

  get mode(): ContextMode {
    return this.contextMode;
  }

  /** Whether the context hook is on (hooks mode only; it outlives the tracked requests until its off-check). */
  get contextHookOn(): boolean {
    return this.hookOn;
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

  /**
   * Whether contexts must follow async work: on while any request with a context is in flight. Only
   * hooks mode has anything to switch; with AsyncContextFrame propagation is free.
   */
  trackContexts(on: boolean): void {
    if (this.contextMode !== 'hooks' || !this.started) return;
    this.contextsWanted = on;
    if (on) this.enableHooks();
    else if (this.hookOn && !this.lingerTimer) this.scheduleHookOff();
  }

  private scheduleHookOff(): void {
    this.lingerTimer = this.clock.setTimeout(() => {
      this.lingerTimer = undefined;
      if (!this.started || this.contextsWanted) return;
      this.disableHooks();
    }, HOOK_LINGER_MS);
  }

  /**
   * Runs `fn` with `context` as the current context of everything it starts, synchronously or later.
   * Outside a running sampler it just runs `fn`. In hooks mode, call `trackContexts(true)` first.
   */
  run<R>(context: object, fn: () => R): R {
    if (!this.started) return fn();
    if (this.store !== undefined) return this.store.run(this.profiler!.createContextHolder(context), fn);
    const previous = this.current;
    this.setContext(context);
    try {
      return fn();
    } finally {
      this.setContext(previous);
    }
  }

  /** The samples since the last collect; sampling goes on. */
  collect(): SampleBatch {
    return this.take(true);
  }

  /** The last samples; the sampler, its hooks and its context storage are gone afterwards. */
  stop(): SampleBatch {
    if (!this.started) return { startUs: this.lastCollectUs, endUs: this.lastCollectUs, intervalUs: 0, samples: [], idle: [], busy: [], unplaced: 0 };
    // Hooks first: they call into the profiler, which must not be asked anything once stopped.
    this.disableHooks();
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
      this.disableHooks();
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

  private setContext(context: object | undefined): void {
    if (context === this.current || !this.started) return;
    this.current = context;
    try {
      this.profiler!.context = context;
    } catch {
      // Never let a profiler hiccup escape: inside an async hook it would abort the process.
    }
  }

  private enableHooks(): void {
    if (this.hookOn) return;
    this.hook ??= createHook({
      init: (_id, _type, _trigger, resource) => {
        if (this.current !== undefined) (resource as Stamped)[CONTEXT] = this.current;
      },
      before: () => this.setContext((executionAsyncResource() as Stamped)[CONTEXT]),
    });
    this.hook.enable();
    this.hookOn = true;
  }

  private disableHooks(): void {
    if (this.lingerTimer) this.clock.clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    if (this.contextMode !== 'hooks') return;
    this.hook?.disable();
    this.hookOn = false;
    this.setContext(undefined);
  }
}
