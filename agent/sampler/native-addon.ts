import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One batch as the addon hands it over (agent/native/interrupt_sampler.cc, `Take`). */
export interface NativeBatch {
  /**
   * Seven numbers per sample: epoch µs, CPU µs, weight in ticks, context index, stack start, stack
   * length, and how many of the ticks the thread spent in native code before it returned to this stack.
   */
  samples: Float64Array;
  /** Frame ids, innermost first, per sample. */
  stacks: Uint32Array;
  contexts: object[];
  /** Four entries per frame first seen since the last collect: name, script, line, column. */
  frames: (string | number)[];
  idle: Float64Array;
  busy: Float64Array;
  dropped: number;
}

/** The addon's sampler class, as far as the agent uses it. */
export interface NativeInterruptSampler {
  /** `slot` (hooks mode): element 0 holds the current context. `key` (cped mode): Sonde's AsyncLocalStorage. */
  start(intervalUs: number, epochOffsetUs: number, slot: unknown[] | undefined, key: object | undefined): void;
  collect(): NativeBatch;
  stop(): NativeBatch;
  /** What the kernel answered the ticker thread's requests for itself; undefined until it has asked. */
  setup(): TickerSetup | undefined;
}

/**
 * Per request the ticker makes of the kernel for itself: 0 granted, an errno when refused (a seccomp
 * profile's EPERM, an old kernel's ENOSYS), -1 not asked (no such call here, or a scheduling policy
 * someone chose). Refused, sampling goes on with the kernel's defaults.
 */
export interface TickerSetup {
  /** sched_setattr: a short scheduler slice, so the ticker preempts JavaScript on a shared CPU. */
  shortSlice: number;
  /** prctl(PR_SET_TIMERSLACK): wake-ups on time rather than with the event loop's timers. */
  exactWakeups: number;
}
export type NativeInterruptSamplerClass = new () => NativeInterruptSampler;

/** What the addon exports. */
export interface InterruptSamplerAddon {
  InterruptSampler: NativeInterruptSamplerClass;
  /** The continuation-preserved embedder data right now (undefined before Node 22). */
  currentFrame(): unknown;
  /** Samplers' states this process holds (running, or stopped and not yet freed): for tests of teardown. */
  statesAlive(): number;
}

const ADDON = 'sonde_sampler.node';

/** The manifest `npm run build` writes into the agent bundle (scripts/build-agent-bundle.mjs). */
export const BUNDLE_MANIFEST = 'sonde-bundle.json';

let platform: string | undefined;

/**
 * This process's platform as the bundle names its addon folders: `linux-x64-glibc`, `linux-arm64-musl`,
 * `darwin-arm64`. On Linux the C library is the one this very process has mapped (an addon built
 * against glibc does not load on musl, Alpine's, and the reverse).
 */
export function platformKey(): string {
  if (platform !== undefined) return platform;
  let key = `${process.platform}-${process.arch}`;
  if (process.platform === 'linux') {
    let maps = '';
    try {
      maps = readFileSync('/proc/self/maps', 'utf8');
    } catch {
      // No /proc: assume the common case.
    }
    key += /\/ld-musl-|\/libc\.musl-/.test(maps) ? '-musl' : '-glibc';
  }
  platform = key;
  return key;
}

/**
 * Where the addon for this runtime lives, one per Node.js ABI (`process.versions.modules`), built by
 * scripts/build-native.mjs. In the self-contained bundle (its manifest beside this code) it is the
 * bundle's own `native/<platform>/abi<N>/` and nothing else: a bundle injected into an app must never
 * load an addon from the app's tree, and one for another platform or C library means "none here"
 * (the agent then uses V8's sampler, whose prebuilds cover it). In the source tree and dist/ it is
 * `agent/native/out/abi<N>/`, found from the package root above this file.
 */
export function addonPath(abi: string = process.versions.modules, from: string = dirname(fileURLToPath(import.meta.url)), key: string = platformKey()): string | undefined {
  if (existsSync(join(from, BUNDLE_MANIFEST))) {
    const own = join(from, 'native', key, `abi${abi}`, ADDON);
    return existsSync(own) ? own : undefined;
  }
  let dir = from;
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'agent', 'native', 'out', `abi${abi}`, ADDON);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

const require = createRequire(import.meta.url);

/** Loads the addon (on first use, never at import). Throws with the reason when there is none for this runtime. */
export function loadInterruptSampler(): InterruptSamplerAddon {
  const path = addonPath();
  if (path === undefined) {
    throw new Error(`no interrupt sampler built for this Node.js (ABI ${process.versions.modules}); run npm run build, or set SONDE_SAMPLER=v8`);
  }
  const addon = require(path) as Partial<InterruptSamplerAddon>;
  if (typeof addon.InterruptSampler !== 'function' || typeof addon.currentFrame !== 'function') throw new Error(`${path} is not Sonde's interrupt sampler`);
  return addon as InterruptSamplerAddon;
}
