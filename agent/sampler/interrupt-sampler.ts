import { AsyncLocalStorage } from 'node:async_hooks';
import { isMap } from 'node:util/types';
import { SondeError } from '../../src/errors.js';
import type { Frame } from '../../src/model/frame.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { ContextHook } from './context-hook.js';
import { type InterruptSamplerAddon, loadInterruptSampler, type NativeInterruptSampler } from './native-addon.js';
import { NativeFrameTable, nativeBatchToSamples } from './native-batch.js';
import { FunctionStarts } from './function-starts.js';
import { SourceMapResolver } from './source-maps.js';
import { emptyBatch, FrameCache, type SampleBatch } from './profile-samples.js';
import type { ContextMode, Sampler } from './sampler.js';
import { refusedSetup } from './ticker-setup.js';

/**
 * Whether AsyncLocalStorage keeps its stores in AsyncContextFrame (Node 24; Node 22 with
 * `--experimental-async-context-frame`), where the addon reads them: asked of V8 rather than inferred
 * from the version and flags.
 */
function asyncContextFrameActive(addon: InterruptSamplerAddon): boolean {
  const probe = new AsyncLocalStorage<object>();
  const marker = {};
  try {
    const frame = probe.run(marker, () => addon.currentFrame());
    // Node's frame is a Map of its own realm's primordials: `instanceof Map` is false, the brand check is not.
    return isMap(frame) && Map.prototype.get.call(frame, probe) === marker;
  } finally {
    probe.disable();
  }
}

/**
 * Node's dispatchers: the first JavaScript a callback from the event loop enters (timers, ticks, async
 * hooks). In hooks mode the context is set by the `before` hook, which runs inside them, so a sample
 * whose innermost frame is one of them may carry the previous callback's context: it counts as busy
 * time of no one. (With AsyncContextFrame, Node sets the context before any JavaScript runs.)
 */
const DISPATCH_FILES = new Set(['node:internal/async_hooks', 'node:internal/timers', 'node:internal/process/task_queues']);
const atDispatch = (f: Frame): boolean => DISPATCH_FILES.has(f.file);

/**
 * The interrupt sampler: agent/native/interrupt_sampler.cc. A native thread asks V8 every interval to
 * interrupt the JavaScript thread, which then records the current request's context and stack; no V8
 * CPU profiler runs. Why, and what it costs against V8's sampler: docs/adr/0003-interrupt-sampler.md.
 *
 * Contexts: in `cped` mode Sonde's AsyncLocalStorage holds the request's state itself (the addon finds
 * it in the current AsyncContextFrame); in `hooks` mode a ContextHook keeps the current state in a
 * one-element array the addon reads.
 */
export class InterruptSampler implements Sampler {
  readonly kind = 'interrupt' as const;
  /** Nothing to warm up: no code logging, no recompiling. */
  readonly warmupMs = 0;
  private addon: InterruptSamplerAddon | undefined;
  private native: NativeInterruptSampler | undefined;
  private store: AsyncLocalStorage<object> | undefined;
  private readonly slot: (object | undefined)[] = [undefined];
  private contextMode: ContextMode = 'hooks';
  private readonly hook: ContextHook;
  private readonly log: Logger;
  private readonly cache: FrameCache;
  /** Where the function around each sampled position begins (exposed for tests: its worker). */
  readonly functionStarts: FunctionStarts;
  private frames: NativeFrameTable | undefined;
  private intervalUs = 0;
  private lastCollectUs = 0;
  /** Whether the ticker's setup has been read (and, when refused, logged): once per sampler. */
  private setupRead = false;

  constructor(
    private readonly clock: Clock,
    log: Logger,
    /** Frames to leave out of stacks (the agent's own wrappers). */
    hideFile: (file: string) => boolean = () => false,
  ) {
    this.log = log.child({ module: 'sampler' });
    // Function starts are parsed in a worker, started on the first file a collect brings (so never
    // without a session) and ended when idle.
    this.functionStarts = new FunctionStarts({ log: this.log, clock });
    this.cache = new FrameCache(hideFile, undefined, new SourceMapResolver(), this.functionStarts);
    this.hook = new ContextHook(clock, (context) => {
      this.slot[0] = context;
    });
  }

  get running(): boolean {
    return this.native !== undefined;
  }

  get mode(): ContextMode {
    return this.contextMode;
  }

  get contextHookOn(): boolean {
    return this.hook.isOn;
  }

  /**
   * A collect copies a few arrays out of the addon (no profile to restart), so it can be frequent:
   * finished requests, kept until the collect that has all their samples, are held at most ~100 ms, and
   * their records reach the operator that much sooner. (Against collects every second, CPU per request
   * did not move measurably on the benchmark service: 83.6 and 80.4 µs, medians of five runs.)
   */
  readonly collectEveryMs = 100;

  get interval(): number {
    return this.running ? this.intervalUs : 0;
  }

  start(intervalUs: number): void {
    if (this.native) throw new Error('sampler already started');
    try {
      if (!this.addon) {
        const addon = loadInterruptSampler();
        this.contextMode = asyncContextFrameActive(addon) ? 'cped' : 'hooks';
        this.addon = addon;
      }
      const native = new this.addon.InterruptSampler();
      // A new storage per start: contexts kept by long-lived resources from an earlier session are
      // then invisible to this one.
      const store = this.contextMode === 'cped' ? new AsyncLocalStorage<object>() : undefined;
      // The addon stamps samples with uv_hrtime; this puts them on the agent's clock.
      const epochOffsetUs = this.clock.nowUs() - Number(process.hrtime.bigint() / 1000n);
      native.start(intervalUs, epochOffsetUs, store === undefined ? this.slot : undefined, store);
      this.native = native;
      this.store = store;
    } catch (err) {
      throw new SondeError('SONDE_SAMPLER_FAILED', (err as Error)?.message ?? String(err), { cause: err });
    }
    process.once('exit', this.stopOnExit);
    this.frames = new NativeFrameTable(this.cache);
    this.intervalUs = intervalUs;
    this.lastCollectUs = this.clock.nowUs();
    this.log.debug({ intervalUs, mode: this.contextMode }, 'interrupt sampler started');
  }

  /**
   * A new ticker at `intervalUs` with the same context storage (or slot) and frame cache, so requests in
   * flight keep their contexts: only the native sampler is replaced. The old one's last samples come back.
   */
  restart(intervalUs: number): SampleBatch {
    const old = this.native;
    if (!old || !this.addon) throw new Error('sampler not started');
    this.readSetup(old);
    const last = this.toBatch(old.stop());
    this.native = undefined;
    try {
      const native = new this.addon.InterruptSampler();
      const epochOffsetUs = this.clock.nowUs() - Number(process.hrtime.bigint() / 1000n);
      native.start(intervalUs, epochOffsetUs, this.store === undefined ? this.slot : undefined, this.store);
      this.native = native;
    } catch (err) {
      this.hook.disable();
      process.off('exit', this.stopOnExit);
      this.store?.disable();
      this.store = undefined;
      this.frames = undefined;
      throw new SondeError('SONDE_SAMPLER_FAILED', (err as Error)?.message ?? String(err), { cause: err });
    }
    this.frames = new NativeFrameTable(this.cache);
    this.intervalUs = intervalUs;
    this.log.debug({ intervalUs }, 'interrupt sampler restarted');
    return last;
  }

  settle(f: Frame): Frame {
    return this.cache.settle(f);
  }

  hasPending(): boolean {
    return this.cache.pendingCount > 0;
  }

  isPending(f: Frame): boolean {
    if (!this.cache.isPending(f)) return false;
    this.cache.settle(f);
    return this.cache.isPending(f);
  }

  trackContexts(on: boolean): void {
    if (this.contextMode !== 'hooks' || !this.native) return;
    this.hook.track(on);
  }

  run<R>(context: object, fn: () => R): R {
    if (!this.native) return fn();
    if (this.store !== undefined) return this.store.run(context, fn);
    return this.hook.run(context, fn);
  }

  collect(): SampleBatch {
    if (!this.native) throw new Error('sampler not started');
    this.readSetup(this.native);
    return this.toBatch(this.native.collect());
  }

  stop(): SampleBatch {
    const native = this.native;
    if (!native) return emptyBatch(this.lastCollectUs);
    this.readSetup(native);
    this.hook.disable();
    process.off('exit', this.stopOnExit);
    this.native = undefined;
    try {
      return this.toBatch(native.stop());
    } finally {
      this.store?.disable();
      this.store = undefined;
      this.frames = undefined;
      this.log.debug('interrupt sampler stopped');
    }
  }

  /**
   * The ticker asks the kernel for a short slice and exact wake-ups when it starts; a seccomp profile may
   * refuse either (with an error: one that kills cannot be survived, see agent/native/README.md).
   * Sampling goes on with the defaults; the agent says so once.
   */
  private readSetup(native: NativeInterruptSampler): void {
    if (this.setupRead) return;
    const setup = native.setup();
    if (setup === undefined) return;
    this.setupRead = true;
    const refused = refusedSetup(setup);
    if (refused) this.log.warn(refused, 'the kernel refused the sampler thread a request (a seccomp profile?); sampling goes on with the defaults');
  }

  private toBatch(raw: ReturnType<NativeInterruptSampler['collect']>): SampleBatch {
    const endUs = this.clock.nowUs();
    const batch = nativeBatchToSamples(raw, this.frames!, this.lastCollectUs, endUs, this.intervalUs, this.contextMode === 'hooks' ? atDispatch : undefined);
    this.lastCollectUs = endUs;
    return batch;
  }

  private readonly stopOnExit = (): void => {
    try {
      this.native?.stop();
    } catch {
      // The process is exiting; nothing to report to.
    }
    this.native = undefined;
  };
}
