import { afterEach, describe, expect, it } from 'vitest';
import type { Clock, TimerHandle } from '../../agent/clock.js';
import { createRootLogger } from '../../agent/log.js';
import { HOOK_LINGER_MS } from '../../agent/sampler/context-hook.js';
import { WallSampler } from '../../agent/sampler/wall-sampler.js';

/** Real time for samples, timers fired by hand. */
class ManualTimers implements Clock {
  readonly pending: { fn: () => void; ms: number; cleared: boolean }[] = [];
  now = (): number => Date.now();
  nowUs = (): number => (performance.timeOrigin + performance.now()) * 1000;
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = { fn, ms, cleared: false };
    this.pending.push(t);
    return { ...t, unref: () => undefined, ref: t } as TimerHandle;
  }
  clearTimeout(handle: TimerHandle): void {
    (handle as { ref: { cleared: boolean } }).ref.cleared = true;
  }
  live(): { fn: () => void; ms: number; cleared: boolean }[] {
    return this.pending.filter((t) => !t.cleared);
  }
  fireAll(): void {
    const due = this.live();
    this.pending.length = 0;
    for (const t of due) t.fn();
  }
}

// The hook exists only where AsyncContextFrame does not (Node < 24 without the flag); elsewhere the
// sampler carries contexts for free and there is nothing to linger.
describe('the context hook (hooks mode)', () => {
  let sampler: WallSampler | undefined;
  afterEach(() => {
    sampler?.stop();
    sampler = undefined;
  });

  it('goes off only when a check HOOK_LINGER_MS after tracked requests ran out finds none, so steady traffic does not rebuild it per request', (ctx) => {
    const clock = new ManualTimers();
    sampler = new WallSampler(clock, createRootLogger('silent'));
    sampler.start(10_000);
    if (sampler.mode !== 'hooks') ctx.skip();

    sampler.trackContexts(true);
    expect(sampler.contextHookOn).toBe(true);
    // The last request out: the hook stays, one timer to take it off later.
    sampler.trackContexts(false);
    expect(sampler.contextHookOn).toBe(true);
    expect(clock.live().map((t) => t.ms)).toEqual([HOOK_LINGER_MS]);
    // Requests come and go within the linger: no new timer, the hook never went off.
    for (let i = 0; i < 100; i++) {
      sampler.trackContexts(true);
      sampler.trackContexts(false);
    }
    expect(clock.live()).toHaveLength(1);
    expect(sampler.contextHookOn).toBe(true);

    // A request in flight when the timer fires keeps it on…
    sampler.trackContexts(true);
    clock.fireAll();
    expect(sampler.contextHookOn).toBe(true);
    // …and once the traffic stops for the whole linger, it goes off.
    sampler.trackContexts(false);
    clock.fireAll();
    expect(sampler.contextHookOn).toBe(false);
  });

  it('goes off with the sampler, without waiting for the linger', (ctx) => {
    const clock = new ManualTimers();
    const s = new WallSampler(clock, createRootLogger('silent'));
    s.start(10_000);
    if (s.mode !== 'hooks') {
      s.stop();
      ctx.skip();
    }
    s.trackContexts(true);
    s.trackContexts(false);
    s.stop();
    expect(s.contextHookOn).toBe(false);
    expect(clock.live()).toHaveLength(0);
  });
});
