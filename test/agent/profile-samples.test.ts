import { describe, expect, it } from 'vitest';
import { FrameCache, type TimeProfile, type TimeProfileNode, timeProfileToSamples } from '../../agent/sampler/profile-samples.js';
import { SYNTHETIC } from '../../src/model/frame.js';

// The raw profile the native wall profiler returns on stop, built by hand: what each kind of node and
// context record becomes in a batch.
const node = (name: string, scriptName: string, lineNumber: number, children: TimeProfileNode[] = [], contexts: TimeProfileNode['contexts'] = [], hitCount = contexts?.length ?? 0): TimeProfileNode => ({
  name,
  scriptName,
  lineNumber,
  hitCount,
  children,
  contexts,
});

const requestA = { name: 'A' };
const requestB = { name: 'B' };
const at = (us: number, context?: object, cpuNs = 0) => ({ timestamp: BigInt(us), context, cpuTime: cpuNs });

function profile(children: TimeProfileNode[], startTime = 0, endTime = 100_000): TimeProfile {
  return { startTime, endTime, topDownRoot: node('(root)', '', 0, children) };
}

describe('timeProfileToSamples', () => {
  const frames = () => new FrameCache((file) => file.includes('/sonde/agent/'));

  it('sorts samples into own (with their stack), busy and idle, by time', () => {
    const handler = node('handler', 'file:///app/server.mjs', 10, [], [at(300, requestA, 2_000), at(100, requestB), at(200)]);
    const route = node('route', '/app/router.js', 5, [handler], [at(400, requestA)]);
    const p = profile([node('(idle)', '', 0, [], [at(50, requestA), at(60)]), route]);
    const batch = timeProfileToSamples(p, 0, 100_000, 1000, frames());

    expect(batch.samples.map((s) => [s.ts, (s.context as { name: string }).name])).toEqual([
      [100, 'B'],
      [300, 'A'],
      [400, 'A'],
    ]);
    const a300 = batch.samples.find((s) => s.ts === 300)!;
    // Root-most first, file URLs as paths.
    expect(a300.stack.map((f) => `${f.name}@${f.file}:${f.line}`)).toEqual(['route@/app/router.js:5', 'handler@/app/server.mjs:10']);
    expect(a300.cpuUs).toBe(2);
    expect(a300.kind).toBe('code');
    expect(batch.busy).toEqual([200]);
    // Idle whatever the context: a request waiting is not running.
    expect(batch.idle.sort()).toEqual([50, 60]);
    expect(batch.unplaced).toBe(0);
  });

  it('marks garbage collection, keeps (program) time, hides the agent own frames and counts hits without a time', () => {
    const p = profile([
      node('(garbage collector)', '', 0, [], [at(10, requestA)]),
      node('(program)', '', 0, [], [at(20, requestA), at(30)]),
      node('wrapper', '/srv/sonde/agent/requests/http-hook.js', 3, [node('work', '/app/w.js', 7, [], [at(40, requestA), at(0, requestA)])], [], 0),
      node('lost', '/app/l.js', 1, [], [], 2),
    ]);
    const batch = timeProfileToSamples(p, 0, 100_000, 1000, frames());
    const byTs = new Map(batch.samples.map((s) => [s.ts, s]));
    expect(byTs.get(10)!.kind).toBe('gc');
    expect(byTs.get(10)!.stack).toEqual([SYNTHETIC.gc]);
    expect(byTs.get(20)!.stack).toEqual([SYNTHETIC.program]);
    expect(batch.busy).toEqual([30]);
    expect(byTs.get(40)!.stack.map((f) => f.name)).toEqual(['work']);
    // The zero-timestamp record and the two hits with no record cannot be placed.
    expect(batch.unplaced).toBe(3);
  });

  it('uses one Frame object per location across batches, and the effective interval', () => {
    const cache = frames();
    const one = () => profile([node('f', '/app/f.js', 2, [], [at(5, requestA), at(6, requestA)])], 0, 30_000);
    const first = timeProfileToSamples(one(), 0, 1, 1000, cache);
    const second = timeProfileToSamples(one(), 0, 1, 1000, cache);
    expect(first.samples[0]!.stack[0]).toBe(second.samples[0]!.stack[0]);
    // 30 ms over 2 hits is 15 ms a sample, capped at twice the nominal 1 ms.
    expect(first.intervalUs).toBe(2000);
    expect(timeProfileToSamples(profile([], 0, 30_000), 0, 1, 1000, cache).intervalUs).toBe(1000);
  });
});
