import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import { Backoff, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';

/** What a list call returns: the items and the collection's resourceVersion to watch from. */
export interface ListResult<T> {
  items: T[];
  metadata?: { resourceVersion?: string };
}

export interface InformerOptions<T> {
  /** For logs and metrics, e.g. `profilingsessions`. */
  name: string;
  kubeConfig: KubeConfig;
  /** The collection's URL path, e.g. `/api/v1/namespaces/shop/pods` (the watch goes there). */
  path: string;
  /** Lists the same collection (with the same selectors). */
  list: () => Promise<ListResult<T>>;
  labelSelector?: string;
  fieldSelector?: string;
  log: Logger;
  clock?: Clock;
  backoff?: BackoffPolicy;
  /**
   * Asked of the server as `timeoutSeconds`; the client also aborts a watch that outlives it by 30 s,
   * which catches half-open connections that would otherwise go silent forever. Default 300.
   */
  watchTimeoutSeconds?: number;
}

export type InformerHandlers<T> = {
  add: (obj: T) => void;
  update: (obj: T, old: T) => void;
  delete: (obj: T) => void;
};

/** Counters for tests and metrics. */
export interface InformerStats {
  lists: number;
  watches: number;
  /** Relists forced by 410 Gone (an expired resourceVersion). */
  gone: number;
  errors: number;
  events: number;
}

type WatchEnd = { kind: 'gone' } | { kind: 'error'; err: unknown; events: number } | { kind: 'closed'; events: number } | { kind: 'stopped' };

/** What the informer needs of an object (typed client-node models and raw JSON both fit). */
export interface ObjectLike {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

const keyOf = (namespace: string | undefined, name: string | undefined): string => `${namespace ?? ''}/${name ?? ''}`;

/**
 * A list-then-watch cache of one collection, on client-node's `Watch` and a list call.
 *
 * Why not client-node's `ListWatch`/`makeInformer`: on any error other than 410 it emits `error` and
 * stops for good (the caller must restart it, with no backoff), it never asks for bookmarks, so a quiet
 * collection's resourceVersion goes stale and every reconnect after compaction costs a full relist, and
 * it has no `synced` signal for /readyz. This one keeps the same model (a map of the latest objects,
 * add/update/delete callbacks) and adds: relist on 410 Gone (HTTP or in-stream ERROR event), resume
 * from the last seen resourceVersion (bookmarks included) after a dropped connection, capped
 * exponential backoff with jitter on errors and on watches that end without progress, a client-side
 * watchdog, an injected clock, and `synced`.
 */
export class KubeInformer<T extends ObjectLike> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: { [K in keyof InformerHandlers<T>]: Set<InformerHandlers<T>[K]> } = { add: new Set(), update: new Set(), delete: new Set() };
  private readonly watcher: Watch;
  private readonly clock: Clock;
  private readonly backoff: Backoff;
  private readonly log: Logger;
  private resourceVersion = '';
  private running = false;
  private stopped = false;
  private abortCurrent: (() => void) | undefined;
  private cancelDelay: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private markSynced!: () => void;
  private isSynced = false;
  /** Resolves once the first list has filled the cache. */
  readonly synced: Promise<void>;
  readonly stats: InformerStats = { lists: 0, watches: 0, gone: 0, errors: 0, events: 0 };

  constructor(private readonly opts: InformerOptions<T>) {
    this.watcher = new Watch(opts.kubeConfig);
    this.clock = opts.clock ?? systemClock;
    this.backoff = new Backoff(opts.backoff ?? DEFAULT_BACKOFF);
    this.log = opts.log.child({ informer: opts.name });
    this.synced = new Promise((resolve) => (this.markSynced = resolve));
  }

  /** Starts listing and watching in the background. Idempotent. */
  start(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops the watch and any pending retry; the cache keeps its last contents. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelDelay?.();
    this.abortCurrent?.();
    await this.loop;
  }

  hasSynced(): boolean {
    return this.isSynced;
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(keyOf(namespace, name));
  }

  list(namespace?: string): T[] {
    const all = [...this.cache.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
  }

  /** Registers a callback; returns its unsubscribe. Callbacks run synchronously on each change. */
  on<K extends keyof InformerHandlers<T>>(event: K, fn: InformerHandlers<T>[K]): () => void {
    this.handlers[event].add(fn);
    return () => void this.handlers[event].delete(fn);
  }

  private emit<K extends keyof InformerHandlers<T>>(event: K, ...args: Parameters<InformerHandlers<T>[K]>): void {
    for (const fn of [...this.handlers[event]]) {
      try {
        (fn as (...a: unknown[]) => void)(...args);
      } catch (err) {
        this.log.error({ err, event }, 'informer handler threw');
      }
    }
  }

  private upsert(obj: T): void {
    const key = keyOf(obj.metadata?.namespace, obj.metadata?.name);
    const old = this.cache.get(key);
    this.cache.set(key, obj);
    if (!old) this.emit('add', obj);
    else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.emit('update', obj, old);
  }

  private remove(obj: T): void {
    const key = keyOf(obj.metadata?.namespace, obj.metadata?.name);
    if (this.cache.delete(key)) this.emit('delete', obj);
  }

  /** Makes the cache equal to a fresh list, emitting the differences (deletes for what vanished). */
  private replace(items: T[]): void {
    const seen = new Set<string>();
    for (const obj of items) {
      seen.add(keyOf(obj.metadata?.namespace, obj.metadata?.name));
      this.upsert(obj);
    }
    for (const [key, obj] of [...this.cache]) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.emit('delete', obj);
      }
    }
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.cancelDelay = this.clock.schedule(ms, () => {
        this.cancelDelay = undefined;
        resolve();
      });
      // stop() cancels the timer; resolve too so the loop can see `stopped` and end.
      const cancel = this.cancelDelay;
      this.cancelDelay = () => {
        cancel();
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    let needList = true;
    let goneInARow = 0;
    while (!this.stopped) {
      if (needList) {
        try {
          this.stats.lists++;
          const result = await this.opts.list();
          if (this.stopped) break;
          this.replace(result.items ?? []);
          this.resourceVersion = result.metadata?.resourceVersion ?? '';
          needList = false;
          this.backoff.reset();
          if (!this.isSynced) {
            this.isSynced = true;
            this.markSynced();
          }
          this.log.debug({ items: result.items?.length ?? 0, resourceVersion: this.resourceVersion }, 'listed');
        } catch (err) {
          this.stats.errors++;
          const wait = this.backoff.next();
          this.log.warn({ err, retryInMs: wait }, 'list failed');
          await this.delay(wait);
          continue;
        }
      }
      const end = await this.watchOnce();
      switch (end.kind) {
        case 'stopped':
          return;
        case 'gone':
          // The resourceVersion fell out of the server's history: only a fresh list is consistent.
          this.stats.gone++;
          needList = true;
          this.log.info({ resourceVersion: this.resourceVersion }, 'resourceVersion expired (410 Gone): relisting');
          if (++goneInARow > 1) await this.delay(this.backoff.next());
          break;
        case 'error': {
          this.stats.errors++;
          // A watch that made progress before failing starts the backoff afresh.
          if (end.events > 0) this.backoff.reset();
          const wait = this.backoff.next();
          this.log.warn({ err: end.err, retryInMs: wait, resourceVersion: this.resourceVersion }, 'watch failed; resuming');
          await this.delay(wait);
          break;
        }
        case 'closed':
          goneInARow = 0;
          if (end.events > 0) {
            // A healthy watch that the server (or the network) ended: resume at once.
            this.backoff.reset();
          } else {
            // Ended without delivering anything: do not hammer a server that keeps hanging up.
            await this.delay(this.backoff.next());
          }
          break;
      }
    }
  }

  /** One watch from the current resourceVersion, until it ends for any reason. */
  private watchOnce(): Promise<WatchEnd> {
    if (this.stopped) return Promise.resolve({ kind: 'stopped' });
    this.stats.watches++;
    const timeoutSeconds = this.opts.watchTimeoutSeconds ?? 300;
    return new Promise<WatchEnd>((resolve) => {
      let finished = false;
      let events = 0;
      let controller: AbortController | undefined;
      let cancelWatchdog: () => void = () => {};
      const finish = (end: WatchEnd): void => {
        if (finished) return;
        finished = true;
        cancelWatchdog();
        this.abortCurrent = undefined;
        controller?.abort();
        resolve(this.stopped ? { kind: 'stopped' } : end);
      };
      this.abortCurrent = () => finish({ kind: 'stopped' });
      cancelWatchdog = this.clock.schedule((timeoutSeconds + 30) * 1000, () => finish({ kind: 'closed', events }));
      const query: Record<string, string | number | boolean> = { allowWatchBookmarks: true, timeoutSeconds };
      if (this.resourceVersion) query.resourceVersion = this.resourceVersion;
      if (this.opts.labelSelector) query.labelSelector = this.opts.labelSelector;
      if (this.opts.fieldSelector) query.fieldSelector = this.opts.fieldSelector;
      const onEvent = (type: string, obj: any): void => {
        if (finished) return;
        this.stats.events++;
        switch (type) {
          case 'ADDED':
          case 'MODIFIED':
            events++;
            this.upsert(obj as T);
            break;
          case 'DELETED':
            events++;
            this.remove(obj as T);
            break;
          case 'BOOKMARK':
            events++;
            break;
          case 'ERROR':
            return finish(obj?.code === 410 ? { kind: 'gone' } : { kind: 'error', events, err: new Error(`watch ERROR event: ${obj?.code} ${obj?.reason}: ${obj?.message}`) });
          default:
            return;
        }
        const rv = (obj as ObjectLike | undefined)?.metadata?.resourceVersion;
        if (rv) this.resourceVersion = rv;
      };
      const onDone = (err: unknown): void => {
        if (!err) return finish({ kind: 'closed', events });
        const code = (err as { statusCode?: number; code?: number }).statusCode ?? (err as { code?: unknown }).code;
        finish(code === 410 ? { kind: 'gone' } : { kind: 'error', events, err });
      };
      this.watcher.watch(this.opts.path, query, onEvent, onDone).then(
        (c) => {
          controller = c;
          if (finished) c.abort();
        },
        (err: unknown) => finish({ kind: 'error', events, err }),
      );
    });
  }
}
