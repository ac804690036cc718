import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestOutcome } from '../../src/protocol/messages.js';
import { SPEC_LIMITS } from '../../src/session/validate.js';
import type { Catalogue } from '../catalogue/catalogue.js';
import type { Logger } from '../log.js';
import type { Profiler } from '../profiling/profiler.js';
import type { RequestState } from '../profiling/request-state.js';
import type { RequestHandler } from './http-hook.js';
import { PathCache } from './normalise-path.js';
import { routeOf } from './route-sources.js';

const WORK = Symbol('sonde.work');

/** One HTTP request in flight, hung on its response until the response closes. */
interface HttpWork {
  tracker: RequestTracker;
  req: IncomingMessage;
  /** The URL as it arrived: routers rewrite `req.url` on the way. */
  url: string;
  startMs: number;
  state: RequestState | undefined;
  threw: boolean;
}

type TrackedResponse = ServerResponse & { [WORK]?: HttpWork };

/**
 * Sees every unit of work start and end: classifies it (`METHOD route`), records it in the catalogue,
 * and, only while a session samples, gives it a sampling context and reports its end to the profiler.
 * With no session the added cost per request is a small object, one listener and a catalogue update.
 */
export class RequestTracker implements RequestHandler {
  private readonly paths = new PathCache();
  private readonly typeNames = new Map<string, Map<string, string>>();
  private readonly log: Logger;

  constructor(
    private readonly catalogue: Catalogue,
    private readonly profiler: Profiler,
    log: Logger,
  ) {
    this.log = log.child({ module: 'requests' });
  }

  onRequest(req: IncomingMessage, res: ServerResponse, emit: () => boolean): boolean {
    let work: HttpWork;
    try {
      const url = req.url ?? '/';
      work = { tracker: this, req, url, startMs: performance.now(), state: this.profiler.begin({ method: req.method ?? 'GET', url }), threw: false };
      (res as TrackedResponse)[WORK] = work;
      res.on('close', onResponseClose);
    } catch (err) {
      // The agent's trouble must not become the request's: serve it untracked.
      this.log.error({ err }, 'could not track a request');
      return emit();
    }
    try {
      return work.state === undefined ? emit() : this.profiler.run(work.state, emit);
    } catch (err) {
      work.threw = true;
      throw err;
    }
  }

  /** Runs `fn` as one unit of work of type `type` (a queue message, a job). */
  transaction<T>(type: string, fn: () => T): T {
    if (typeof type !== 'string' || type === '' || type.length > SPEC_LIMITS.maxRequestLength) {
      this.log.warn({ type }, 'transaction type must be a non-empty string of at most 512 characters; not tracked');
      return fn();
    }
    const startMs = performance.now();
    let state: RequestState | undefined;
    try {
      state = this.profiler.begin({ type });
    } catch (err) {
      this.log.error({ err }, 'could not track a transaction');
    }
    const finish = (outcome: RequestOutcome): void => {
      try {
        this.catalogue.record(type, performance.now() - startMs, outcome === 'error');
        if (state) this.profiler.end(state, type, outcome, undefined);
      } catch (err) {
        this.log.error({ err }, 'could not record a transaction');
      }
    };
    let result: T;
    try {
      result = state === undefined ? fn() : this.profiler.run(state, fn);
    } catch (err) {
      finish('error');
      throw err;
    }
    if (isThenable(result)) {
      return result.then(
        (v) => {
          finish('ok');
          return v;
        },
        (e: unknown) => {
          finish('error');
          throw e;
        },
      ) as T;
    }
    finish('ok');
    return result;
  }

  /** @internal the response of `work` closed, finished or not. */
  finishHttp(work: HttpWork, res: ServerResponse): void {
    try {
      const durationMs = performance.now() - work.startMs;
      const finished = res.writableFinished;
      const status = finished ? res.statusCode : undefined;
      const outcome: RequestOutcome = work.threw ? 'error' : !finished ? 'aborted' : status! >= 500 ? 'error' : 'ok';
      const type = this.typeName(work.req.method ?? 'GET', routeOf(work.req) ?? this.paths.get(work.url));
      this.catalogue.record(type, durationMs, outcome === 'error');
      if (work.state) this.profiler.end(work.state, type, outcome, status);
    } catch (err) {
      this.log.error({ err }, 'could not record a request');
    }
  }

  /** `METHOD route`, built once per pair so the catalogue sees the same string each time. */
  private typeName(method: string, route: string): string {
    let byRoute = this.typeNames.get(method);
    if (byRoute === undefined) {
      byRoute = new Map();
      this.typeNames.set(method, byRoute);
    }
    let name = byRoute.get(route);
    if (name === undefined) {
      name = `${method} ${route}`;
      if (byRoute.size >= 5000) byRoute.clear();
      byRoute.set(route, name);
    }
    return name;
  }
}

function onResponseClose(this: TrackedResponse): void {
  const work = this[WORK];
  if (work === undefined) return;
  this[WORK] = undefined;
  work.tracker.finishHttp(work, this);
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}
