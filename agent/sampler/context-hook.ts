import { createHook, executionAsyncResource, type AsyncHook } from 'node:async_hooks';
import type { Clock, TimerHandle } from '../clock.js';

/** How long after tracked requests last ran out the hook's off-check comes (it stays on if any is in flight then). */
export const HOOK_LINGER_MS = 1000;

/** Where a resource's context is kept (a symbol on the resource, as AsyncLocalStorage does). */
const CONTEXT = Symbol('sonde.context');
type Stamped = { [CONTEXT]?: object };

/**
 * Carries the current request's context across async work where AsyncContextFrame is not there to do
 * it (Node 20, Node 22 without the flag), and hands each change to `write` (which tells the sampler).
 * One async hook: `init` stamps each new async resource with the context of the code creating it,
 * `before` makes a resource's context current when its callback runs. There is no `after`: it would
 * double the hook's calls, and what runs between callbacks is either idle time (recognised as such
 * whatever the context) or the runtime's own plumbing.
 *
 * The hook costs a little on every callback and promise, so it is on only while requests with a
 * context are in flight (`track`). It is not turned off the moment none is: the first time none is, a
 * check is set HOOK_LINGER_MS ahead, and the hook goes off only if that check finds none in flight.
 * Turning an async hook on or off rebuilds Node's promise hooks, which under steady traffic (requests
 * in flight dropping to zero between arrivals, thousands of times a second) cost more than the hook
 * itself; this way it happens at most about once per HOOK_LINGER_MS.
 */
export class ContextHook {
  private hook: AsyncHook | undefined;
  private on = false;
  /** Whether tracked requests are in flight (the hook's reason to be on). */
  private wanted = false;
  private lingerTimer: TimerHandle | undefined;
  /** The context last handed to `write`, to skip redundant calls. */
  private current: object | undefined;

  constructor(
    private readonly clock: Clock,
    /** Tells the sampler the current context; must not throw (inside an async hook it would abort the process). */
    private readonly write: (context: object | undefined) => void,
  ) {}

  get isOn(): boolean {
    return this.on;
  }

  track(on: boolean): void {
    this.wanted = on;
    if (on) this.enable();
    else if (this.on && !this.lingerTimer) this.scheduleOff();
  }

  /** Runs `fn` with `context` current; call `track(true)` first so that what `fn` starts inherits it. */
  run<R>(context: object, fn: () => R): R {
    const previous = this.current;
    this.set(context);
    try {
      return fn();
    } finally {
      this.set(previous);
    }
  }

  /** Turns the hook off now and clears the current context. */
  disable(): void {
    if (this.lingerTimer) this.clock.clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.hook?.disable();
    this.on = false;
    this.wanted = false;
    this.set(undefined);
  }

  private set(context: object | undefined): void {
    if (context === this.current) return;
    this.current = context;
    this.write(context);
  }

  private enable(): void {
    if (this.on) return;
    this.hook ??= createHook({
      init: (_id, _type, _trigger, resource) => {
        if (this.current !== undefined) (resource as Stamped)[CONTEXT] = this.current;
      },
      before: () => this.set((executionAsyncResource() as Stamped)[CONTEXT]),
    });
    this.hook.enable();
    this.on = true;
  }

  private scheduleOff(): void {
    this.lingerTimer = this.clock.setTimeout(() => {
      this.lingerTimer = undefined;
      if (this.wanted) return;
      this.hook?.disable();
      this.on = false;
      this.set(undefined);
    }, HOOK_LINGER_MS);
  }
}
