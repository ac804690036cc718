import { describe, expect, it } from 'vitest';
import { CallTreeBuilder } from '../../src/model/call-tree-builder.js';
import type { CallTree } from '../../src/model/call-tree.js';
import { SYNTHETIC, frameKey, makeFrame } from '../../src/model/frame.js';
import { WEIGHT_NAMES } from '../../src/model/weights.js';
import { type SerializedTree, deserializeTree, serializeTree } from '../../src/model/serialized.js';
import { framePool, randomTree, seededRandom } from './random-trees.js';

/** Node by node: same parent, equal frame, same self weights. One assertion, so 100k nodes stay fast. */
function sameTree(a: CallTree, b: CallTree): void {
  expect(b.size).toBe(a.size);
  const diffs: string[] = [];
  for (let i = 1; i < a.size && diffs.length < 5; i++) {
    if (a.parents[i] !== b.parents[i]) diffs.push(`node ${i}: parent`);
    if (frameKey(a.frame(i)!) !== frameKey(b.frame(i)!)) diffs.push(`node ${i}: frame`);
    for (const name of WEIGHT_NAMES) if (a.self[name][i] !== b.self[name][i]) diffs.push(`node ${i}: ${name}`);
  }
  expect(diffs).toEqual([]);
}

function sample(): SerializedTree {
  const b = new CallTreeBuilder();
  b.addStack([makeFrame('main', '/a.js', 1, 1), makeFrame('work', '/a.js', 5, 2)], { samples: 2, wallUs: 20.5, cpuUs: 10 });
  b.addStack([makeFrame('main', '/a.js', 1, 1), SYNTHETIC.waiting], { samples: 1, wallUs: 9000, cpuUs: 0 });
  return serializeTree(b.build());
}

describe('serializeTree / deserializeTree', () => {
  it('round-trips random trees exactly, through JSON (seeded)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const t = randomTree(seededRandom(seed), { nodes: 800, integerWeights: seed % 2 === 0, frames: framePool(60) });
      const back = deserializeTree(JSON.parse(JSON.stringify(serializeTree(t))));
      if (seed % 2 === 0) sameTree(t, back);
      else {
        // Fractional times are rounded to the nanosecond on the wire.
        for (let i = 1; i < t.size; i++) expect(Math.abs(back.self.wallUs[i]! - t.self.wallUs[i]!)).toBeLessThanOrEqual(0.0005);
      }
    }
  });

  it('writes each string once and keeps frame kinds', () => {
    const s = sample();
    expect(s.version).toBe(1);
    expect(s.strings.filter((x) => x === '/a.js')).toHaveLength(1);
    const t = deserializeTree(s);
    expect(t.frames.map((f) => f.kind)).toEqual(['code', 'code', 'synthetic']);
  });

  it('round-trips a 100k-node tree', () => {
    const t = randomTree(seededRandom(5), { nodes: 100_000, frames: framePool(3000) });
    sameTree(t, deserializeTree(JSON.parse(JSON.stringify(serializeTree(t)))));
  });

  const bad: [string, (s: SerializedTree) => unknown, RegExp][] = [
    ['null', () => null, /expected an object/],
    ['a string', () => 'tree', /expected an object/],
    ['a missing version', (s) => ({ ...s, version: undefined }), /unsupported version/],
    ['a future version', (s) => ({ ...s, version: 2 }), /unsupported version 2/],
    ['strings not an array', (s) => ({ ...s, strings: 'x' }), /must be arrays/],
    ['frames not an array', (s) => ({ ...s, frames: {} }), /must be arrays/],
    ['nodes not an array', (s) => ({ ...s, nodes: null }), /must be arrays/],
    ['a frames length not a multiple of 5', (s) => ({ ...s, frames: s.frames.slice(0, -1) }), /multiple of 5/],
    ['a nodes length not a multiple of 5', (s) => ({ ...s, nodes: s.nodes.slice(0, -2) }), /multiple of 5/],
    ['a string index out of range', (s) => ({ ...s, frames: [99, ...s.frames.slice(1)] }), /bad string index 99/],
    ['a string that is not a string', (s) => ({ ...s, strings: [1, ...s.strings.slice(1)] }), /bad string index/],
    ['an unknown frame kind', (s) => ({ ...s, frames: [...s.frames.slice(0, 4), 17, ...s.frames.slice(5)] }), /bad frame kind 17/],
    ['a negative line', (s) => ({ ...s, frames: [s.frames[0], s.frames[1], -3, ...s.frames.slice(3)] }), /line/],
    ['a parent after its child', (s) => ({ ...s, nodes: [5, ...s.nodes.slice(1)] }), /node 1 has bad parent 5/],
    ['a fractional parent', (s) => ({ ...s, nodes: [0.5, ...s.nodes.slice(1)] }), /bad parent/],
    ['a frame index out of range', (s) => ({ ...s, nodes: [0, 42, ...s.nodes.slice(2)] }), /bad frame 42/],
    ['a negative weight', (s) => ({ ...s, nodes: [...s.nodes.slice(0, 2), -1, ...s.nodes.slice(3)] }), /bad weight -1/],
    ['a NaN weight', (s) => ({ ...s, nodes: [...s.nodes.slice(0, 3), Number.NaN, ...s.nodes.slice(4)] }), /bad weight/],
    ['a string weight', (s) => ({ ...s, nodes: [...s.nodes.slice(0, 4), '3', ...s.nodes.slice(5)] }), /bad weight/],
    ['two siblings with one frame', (s) => ({ ...s, nodes: [...s.nodes, 1, s.nodes[6]!, 0, 0, 0] }), /repeats a sibling's frame/],
  ];
  for (const [what, mutate, message] of bad) {
    it(`rejects ${what} with a RangeError`, () => {
      const input = mutate(structuredClone(sample()));
      expect(() => deserializeTree(input)).toThrow(RangeError);
      expect(() => deserializeTree(input)).toThrow(message);
    });
  }

  it('accepts the unmodified sample (the rejections above are about the mutation)', () => {
    expect(deserializeTree(sample()).totals.samples).toBe(3);
  });
});
