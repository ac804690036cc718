import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { type Clock, systemClock, type TimerHandle } from '../clock.js';
import type { Logger } from '../log.js';
import { bytesOf, type FileIndex, type FunctionStart, functionAt } from './function-index.js';
import type { ParseReply, ParseRequest } from './function-starts-worker.js';

export type { FunctionStart } from './function-index.js';

/** How much a locator may read and keep: it runs inside users' processes. */
export interface FunctionStartLimits {
  /**
   * A file larger than this is not parsed: a parse costs about 1.8k instructions per byte once acorn is
   * warm, 4k cold (on the worker's thread, a core the app may want) and its syntax tree takes ~20× the
   * file's size in the worker while it lasts (docs/BENCHMARKS.md). Big bundles go without starts.
   */
  maxFileBytes: number;
  /** Files whose answer (an index or "none") is kept. */
  maxFiles: number;
  /** Bytes of index kept over all files (4 per line, 20 per function). */
  maxIndexBytes: number;
  /** Bytes parsed over the locator's life: past this, files not yet indexed answer null (no thrashing through evictions). */
  maxParseBytes: number;
}

export const DEFAULT_FUNCTION_START_LIMITS: FunctionStartLimits = Object.freeze({
  maxFileBytes: 1024 * 1024,
  maxFiles: 1000,
  maxIndexBytes: 32 * 1024 * 1024,
  maxParseBytes: 64 * 1024 * 1024,
});

/** What a FunctionStarts is made with; everything has a default. */
export interface FunctionStartOptions {
  limits?: FunctionStartLimits;
  log?: Logger;
  /** Times the worker's idle end and a parse's deadline. */
  clock?: Clock;
  /** The worker's script; null: no worker (every file answers null). Default: beside this module (workerScript()). */
  workerFile?: string | null;
  /** The worker ends after this long with nothing to parse (a session's files are usually all seen within seconds). */
  idleMs?: number;
  /** Files waiting for or in the worker at once; more answer "pending" without being queued, and are asked again later. */
  maxQueued?: number;
  /** A parse taking longer than this (a pathological file, a stuck worker) ends the worker: counts as a crash. */
  parseTimeoutMs?: number;
  /** The worker's heap and stack: a 1 MiB file's syntax tree needs ~20 MiB; more than this kills the worker, not the app. */
  resourceLimits?: ResourceLimits;
}

/** The answer while a file's index is being built: the frame goes without a start for now and is asked again. */
export const PENDING = 'pending' as const;

/** After this many worker deaths the locator gives up: every file not yet indexed answers null. */
const MAX_CRASHES = 3;
const SCRIPT = /\.(?:c|m)?js$/;

/** Workers this process has started (tests: no session, no worker). */
let workersStarted = 0;
export const functionStartWorkersStarted = (): number => workersStarted;

/**
 * The worker's script: `function-starts-worker.cjs` beside the agent bundle's `agent.cjs` (esbuild,
 * scripts/build-agent-bundle.mjs; acorn inlined, never the app's copy), or `function-starts-worker.js`
 * beside this module in `dist/`. From source (vitest: Node 20 cannot run TypeScript in a Worker) the
 * compiled one in `dist/`. Null when none exists: then no starts.
 */
export function workerScript(): string | null {
  const here = import.meta.url;
  const candidates = [new URL('./function-starts-worker.cjs', here), new URL('./function-starts-worker.js', here)];
  if (here.endsWith('.ts')) candidates.push(new URL('../../dist/agent/sampler/function-starts-worker.js', here));
  for (const u of candidates) {
    const p = fileURLToPath(u);
    if (existsSync(p)) return p;
  }
  return null;
}

/**
 * The worker's lifecycle: `none` (not started, or ended when idle: started on the next file),
 * `running`, `failed` (died MAX_CRASHES times, or cannot be started: no more parsing).
 */
type WorkerState = 'none' | 'running' | 'failed';

/**
 * Finds where the function containing a source position begins. The interrupt sampler's frames come
 * from V8's `StackTrace` (a position only; V8 gives an addon no function start), so each file is read
 * once with acorn and kept as a function index (function-index.ts): a lookup on the app's thread is a
 * binary search and a walk up the enclosing functions (µs). The parse runs in a worker thread started
 * on the first file and ended when idle: until a file's index arrives its positions answer PENDING.
 * Answers are kept (least recently used first out, within `limits`); a file that is not JavaScript on
 * disk, too big, unreadable, that does not parse, or that was being parsed when the worker died,
 * answers null every time after. Never throws.
 */
export class FunctionStarts {
  private readonly files = new Map<string, FileIndex | null>();
  /** Files sent to the worker, by request id. */
  private readonly inFlight = new Map<number, { file: string; sentAt: number }>();
  private readonly queued = new Set<string>();
  private bytes = 0;
  private parsed = 0;
  private nextId = 1;
  private worker: Worker | undefined;
  private state: WorkerState = 'none';
  private crashes = 0;
  private idleTimer: TimerHandle | undefined;
  private deadline: TimerHandle | undefined;
  private failureLogged = false;
  private waiters: (() => void)[] = [];
  private readonly limits: FunctionStartLimits;
  private readonly clock: Clock;
  private readonly idleMs: number;
  private readonly maxQueued: number;
  private readonly parseTimeoutMs: number;
  private readonly workerFile: string | null;

  constructor(private readonly options: FunctionStartOptions = {}) {
    this.limits = options.limits ?? DEFAULT_FUNCTION_START_LIMITS;
    this.clock = options.clock ?? systemClock;
    this.idleMs = options.idleMs ?? 30_000;
    this.maxQueued = options.maxQueued ?? 256;
    this.parseTimeoutMs = options.parseTimeoutMs ?? 20_000;
    this.workerFile = options.workerFile === undefined ? workerScript() : options.workerFile;
  }

  /**
   * The start of the innermost function whose source contains `line:column` (1-based; column 0:
   * unknown, taken as the line's first character) in `file`; null when none does (top-level code) or
   * the file cannot be read; PENDING while its index is being built. A method's start is its name's
   * line (`get() {`), as a `def` would be.
   */
  startOf(file: string, line: number, column: number): FunctionStart | null | typeof PENDING {
    if (line <= 0 || !isAbsolute(file) || !SCRIPT.test(file)) return null;
    const index = this.lookup(file);
    if (index === PENDING || index === null) return index;
    return functionAt(index, line, column);
  }

  /** How many files have an answer kept (tests and logs). */
  get size(): number {
    return this.files.size;
  }

  /** Whether the worker thread exists now. */
  get workerRunning(): boolean {
    return this.worker !== undefined;
  }

  /** Resolves once no file is waiting for the worker (tests, benchmarks). */
  settled(): Promise<void> {
    if (this.queued.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Ends the worker now (the sampler is gone); kept answers stay. */
  close(): void {
    this.endWorker();
    this.dropInFlight();
  }

  private lookup(file: string): FileIndex | null | typeof PENDING {
    const hit = this.files.get(file);
    if (hit !== undefined) {
      this.files.delete(file);
      this.files.set(file, hit);
      return hit;
    }
    if (this.queued.has(file)) return PENDING;
    if (this.parsed >= this.limits.maxParseBytes || this.state === 'failed' || this.workerFile === null) {
      if (this.workerFile === null) this.logFailure('no worker script for function starts: frames go without them');
      return null;
    }
    if (this.queued.size >= this.maxQueued) return PENDING;
    const worker = this.ensureWorker();
    if (worker === undefined) return null;
    const id = this.nextId++;
    const request: ParseRequest = { id, file, max: Math.min(this.limits.maxFileBytes, this.limits.maxParseBytes - this.parsed) };
    this.inFlight.set(id, { file, sentAt: this.clock.now() });
    this.queued.add(file);
    worker.postMessage(request);
    this.armDeadline();
    return PENDING;
  }

  private ensureWorker(): Worker | undefined {
    if (this.idleTimer !== undefined) {
      this.clock.clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    if (this.worker !== undefined) return this.worker;
    let worker: Worker;
    try {
      worker = new Worker(this.workerFile!, {
        resourceLimits: this.options.resourceLimits ?? { maxOldGenerationSizeMb: 96, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
        // None of the app's flags: `-e`/`--input-type`, `--import` and the like are the app's, not the
        // parser's (an inherited `-e` would run the app's script in the worker and fail it).
        execArgv: [],
      });
    } catch (err) {
      this.state = 'failed';
      this.logFailure('could not start the function-start worker: frames go without starts', err);
      return undefined;
    }
    workersStarted++;
    worker.on('message', (m: ParseReply) => this.onReply(worker, m));
    worker.on('error', (err) => this.onDeath(worker, err));
    worker.on('exit', (code) => this.onDeath(worker, new Error(`worker exited with code ${code}`)));
    // After the listeners (a 'message' listener refs the worker's port): the agent must never hold the
    // app's process open.
    worker.unref();
    this.worker = worker;
    this.state = 'running';
    return worker;
  }

  private onReply(worker: Worker, m: ParseReply): void {
    if (worker !== this.worker) return;
    const sent = this.inFlight.get(m.id);
    if (sent === undefined) return;
    this.inFlight.delete(m.id);
    this.queued.delete(sent.file);
    this.parsed += m.read;
    if (m.error !== undefined) this.logFailure('the function-start worker failed on a file: its frames go without starts', new Error(m.error), sent.file);
    let index: FileIndex | null = m.index;
    if (index !== null && bytesOf(index) > this.limits.maxIndexBytes) index = null;
    this.keep(sent.file, index);
    this.armDeadline();
    this.afterWork();
  }

  /** The worker died (a crash, out of its heap, killed) or was stuck: what it was parsing goes without starts. */
  private onDeath(worker: Worker, err: unknown): void {
    if (worker !== this.worker) return; // ended on purpose, or an 'exit' after its 'error'
    this.worker = undefined;
    this.crashes++;
    if (this.crashes >= MAX_CRASHES) this.state = 'failed';
    else this.state = 'none';
    this.logFailure('the function-start worker died: the files it was parsing go without starts', err);
    for (const { file } of this.inFlight.values()) this.keep(file, null);
    this.dropInFlight();
    void worker.terminate();
  }

  private keep(file: string, index: FileIndex | null): void {
    this.files.set(file, index);
    if (index !== null) this.bytes += bytesOf(index);
    for (const [k, v] of this.files) {
      if (this.files.size <= this.limits.maxFiles && this.bytes <= this.limits.maxIndexBytes) break;
      this.files.delete(k);
      if (v !== null) this.bytes -= bytesOf(v);
    }
  }

  private dropInFlight(): void {
    this.inFlight.clear();
    this.queued.clear();
    this.afterWork();
  }

  /** Nothing left to parse: wake waiters, end the worker after `idleMs`. */
  private afterWork(): void {
    if (this.queued.size > 0) return;
    if (this.deadline !== undefined) {
      this.clock.clearTimeout(this.deadline);
      this.deadline = undefined;
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
    if (this.worker !== undefined && this.idleTimer === undefined) {
      this.idleTimer = this.clock.setTimeout(() => {
        this.idleTimer = undefined;
        if (this.queued.size === 0) this.endWorker();
      }, this.idleMs);
      this.idleTimer.unref?.();
    }
  }

  /** A deadline on the oldest parse in flight: past it, the worker is taken for stuck and ended. */
  private armDeadline(): void {
    if (this.deadline !== undefined) this.clock.clearTimeout(this.deadline);
    this.deadline = undefined;
    const oldest = this.inFlight.values().next();
    if (oldest.done) return;
    const worker = this.worker;
    const wait = Math.max(0, oldest.value.sentAt + this.parseTimeoutMs - this.clock.now());
    this.deadline = this.clock.setTimeout(() => {
      this.deadline = undefined;
      if (worker !== undefined && worker === this.worker) this.onDeath(worker, new Error(`a parse took over ${this.parseTimeoutMs} ms`));
    }, wait);
    this.deadline.unref?.();
  }

  private endWorker(): void {
    const worker = this.worker;
    this.worker = undefined;
    if (this.state === 'running') this.state = 'none';
    if (this.idleTimer !== undefined) this.clock.clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (worker !== undefined) void worker.terminate();
  }

  /** Once per locator: a sampler that loses its starts says so once, not per file or per collect. */
  private logFailure(msg: string, err?: unknown, file?: string): void {
    if (this.failureLogged) return;
    this.failureLogged = true;
    this.options.log?.warn({ err, file }, msg);
  }
}
