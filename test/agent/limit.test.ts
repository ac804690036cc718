import type { Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Agent, startAgent } from '../../agent/index.js';
import { ProgressPacer } from '../../agent/connection/progress-pacer.js';
import type { Clock, TimerHandle } from '../../agent/clock.js';
import { PROTOCOL_VERSION } from '../../src/protocol/messages.js';
// @ts-expect-error plain JS fixture shared with the child-process tests
import { plainApp } from './fixtures/apps.mjs';
import { FakeOperator } from './helpers/fake-operator.js';
import { get, until } from './helpers/load.js';
import { closeServer, listen, sleep } from './helpers/servers.js';

/**
 * The Node agent's side of keeping a session's count close to N (Sonde 0.4): it says `limits` in hello,
 * honours `limit` (a lower cap only; at the cap it ends as at N), and sends `progress` on every request
 * it takes once few remain under its cap. Real agent, real sampler, a real app, the operator's side on loopback.
 */

// The periodic progress tick is pushed out of the way: only the near-cap path can send progress here.
const SLOW_TICK = { backoff: { baseMs: 50, capMs: 200 }, catalogueEveryMs: 60_000, progressEveryMs: 60_000, progressGapMs: 5, flushEveryMs: 20 };
const welcome = { type: 'welcome', protocol: PROTOCOL_VERSION, agentId: 'a1', heartbeatMs: 30_000, acks: false };
const start = (session: string, maxRequests: number) => ({ type: 'start', session, request: 'GET /alpha/:id', maxRequests, deadline: Date.now() + 30_000, sampleIntervalMs: 5 });

describe('limit and progress near the cap (Node agent)', () => {
  let app: Server;
  let port: number;
  let agent: Agent | undefined;
  let op: FakeOperator | undefined;

  beforeAll(async () => {
    app = plainApp({ alpha: 50_000, beta: 50_000 }) as Server;
    port = await listen(app);
  });
  afterAll(() => closeServer(app));
  afterEach(async () => {
    await agent?.close();
    agent = undefined;
    await op?.stop().catch(() => {});
    op = undefined;
  });

  async function connected(): Promise<NonNullable<FakeOperator['last']>> {
    op = new FakeOperator();
    await op.start();
    agent = startAgent({ url: op.url, pod: { name: 'web-1', namespace: 'shop', uid: '' }, labels: {}, logLevel: 'silent', samplerWarmupMs: 0, collectEveryMs: 50, link: SLOW_TICK });
    await until(() => op!.last?.messages.length === 1, 5000, 'hello');
    const c = op.last!;
    expect(c.messages[0]).toMatchObject({ type: 'hello', limits: true });
    c.send(welcome);
    return c;
  }

  it('takes no more than a lowered cap, even from a burst of requests finishing at once', async () => {
    const c = await connected();
    c.send(start('s-1', 200));
    await sleep(100);
    for (let i = 0; i < 3; i++) await get(port, `/alpha/${i}`);
    c.send({ type: 'limit', session: 's-1', maxRequests: 5 });
    await sleep(50);
    // A raise is ignored: caps only come down.
    c.send({ type: 'limit', session: 's-1', maxRequests: 100 });
    await sleep(50);
    await Promise.all(Array.from({ length: 12 }, (_, i) => get(port, `/alpha/${10 + i}`)));
    await until(() => op!.all('ended').length === 1, 5000, 'ended');
    expect(op!.all('ended')[0]).toMatchObject({ session: 's-1', reason: 'requests', requests: 5 });
    expect(op!.all('requests').flatMap((b) => b.requests)).toHaveLength(5);
  });

  it('ends at once, with what it took, when the cap comes down below it', async () => {
    const c = await connected();
    c.send(start('s-2', 200));
    await sleep(100);
    for (let i = 0; i < 4; i++) await get(port, `/alpha/${i}`);
    c.send({ type: 'limit', session: 's-2', maxRequests: 2 });
    await until(() => op!.all('ended').length === 1, 5000, 'ended');
    expect(op!.all('ended')[0]).toMatchObject({ session: 's-2', reason: 'requests', requests: 4 });
    // A limit for a session it does not run changes nothing; a malformed one is answered with an error.
    c.send({ type: 'limit', session: 'nope', maxRequests: 1 });
    c.send({ type: 'limit', session: 's-2', maxRequests: -1 });
    await until(() => op!.all('error').length === 1, 5000, 'error');
    expect(op!.all('error')[0]).toMatchObject({ code: 'SONDE_BAD_MESSAGE', message: expect.stringMatching(/maxRequests/) });
  });

  it('sends progress on each request taken once at most 16 remain under its cap, not before', async () => {
    const c = await connected();
    c.send(start('s-3', 20));
    await sleep(100);
    // 20 − 3 = 17 remain: still far from the cap, and the tick is a minute away: no progress.
    for (let i = 0; i < 3; i++) await get(port, `/alpha/${i}`);
    await sleep(100);
    expect(op!.all('progress')).toHaveLength(0);
    // From here each request taken is followed by a progress that counts it (taken = requests + inFlight).
    for (let i = 3; i < 6; i++) {
      await get(port, `/alpha/${i}`);
      await until(() => op!.all('progress').some((m) => m.requests + m.inFlight === i + 1), 2000, `progress for ${i + 1}`);
    }
  });
});

describe('ProgressPacer', () => {
  class StepClock implements Clock {
    t = 1000;
    timers: { at: number; fn: () => void; handle: TimerHandle }[] = [];
    now(): number {
      return this.t;
    }
    nowUs(): number {
      return this.t * 1000;
    }
    setTimeout(fn: () => void, ms: number): TimerHandle {
      const handle = {};
      this.timers.push({ at: this.t + ms, fn, handle });
      return handle;
    }
    clearTimeout(handle: TimerHandle): void {
      this.timers = this.timers.filter((x) => x.handle !== handle);
    }
    advance(ms: number): void {
      const end = this.t + ms;
      for (;;) {
        const next = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!next) break;
        this.timers = this.timers.filter((x) => x !== next);
        this.t = next.at;
        next.fn();
      }
      this.t = end;
    }
  }

  it('ticks while a session runs, sends soon near the cap at most every gap, and holds one timer', () => {
    const clock = new StepClock();
    const sent: number[] = [];
    let active = true;
    const pacer = new ProgressPacer(clock, () => sent.push(clock.now()), () => active, 50, 10);
    expect(clock.timers).toHaveLength(0); // no session, no timer
    pacer.wake();
    clock.advance(120);
    expect(sent).toEqual([1050, 1100]);
    pacer.soon(); // 20 ms after the last send: at once
    pacer.soon();
    pacer.soon();
    expect(clock.timers).toHaveLength(1);
    clock.advance(0);
    expect(sent).toEqual([1050, 1100, 1120]);
    pacer.soon(); // right after a send: waits out the gap
    clock.advance(5);
    expect(sent).toHaveLength(3);
    clock.advance(5);
    expect(sent).toEqual([1050, 1100, 1120, 1130]);
    active = false;
    clock.advance(200);
    expect(sent).toEqual([1050, 1100, 1120, 1130, 1180]);
    expect(clock.timers).toHaveLength(0); // no session left: the tick stops
    pacer.wake();
    pacer.close();
    expect(clock.timers).toHaveLength(0);
  });
});
