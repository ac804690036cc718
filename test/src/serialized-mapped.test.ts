import { describe, expect, it } from 'vitest';
import { CallTreeBuilder } from '../../src/model/call-tree-builder.js';
import { makeFrame } from '../../src/model/frame.js';
import { mergeTrees } from '../../src/model/merge.js';
import { type SerializedTree, deserializeTree, serializeTree } from '../../src/model/serialized.js';
import { validateAgentMessage } from '../../src/protocol/validate-agent-message.js';

// Frames the agent resolved through a source map carry the compiled file they came from
// (Frame.mappedFrom), on the wire as the tree's optional `mapped` pairs.
const mapped = makeFrame('priceOrders', '/app/src/server.ts', 33, 0, 'code', '/app/dist/server.js');
const plain = makeFrame('handle', '/app/dist/other.js', 12);

function tree(): SerializedTree {
  const b = new CallTreeBuilder();
  b.addStack([plain, mapped], { samples: 3, wallUs: 30, cpuUs: 0 });
  return serializeTree(b.build());
}

describe('mapped frames in the wire form', () => {
  it('round-trip through JSON, and trees without any keep the old form', () => {
    const t = tree();
    expect(t.mapped).toHaveLength(2);
    const back = deserializeTree(JSON.parse(JSON.stringify(t)));
    const frames = back.frames.filter((f) => f.name === 'priceOrders' || f.name === 'handle');
    expect(frames.find((f) => f.name === 'priceOrders')?.mappedFrom).toBe('/app/dist/server.js');
    expect(frames.find((f) => f.name === 'handle')?.mappedFrom).toBeUndefined();
    // Merging keeps it.
    expect(mergeTrees([back, back]).frames.find((f) => f.name === 'priceOrders')?.mappedFrom).toBe('/app/dist/server.js');
    const b = new CallTreeBuilder();
    b.addStack([plain], { samples: 1, wallUs: 1, cpuUs: 0 });
    expect(Object.keys(serializeTree(b.build()))).toEqual(['version', 'strings', 'frames', 'nodes']);
  });

  it('are rejected when malformed: odd length, a frame out of range or named twice, a bad or empty string', () => {
    const t = tree();
    const frameCount = t.frames.length / 5;
    const emptyString = t.strings.indexOf('');
    const cases: [unknown, RegExp][] = [
      ['x', /pairs/],
      [[0], /pairs/],
      [[frameCount, 0], /bad frame/],
      [[-1, 0], /bad frame/],
      [[0.5, 0], /bad frame/],
      [[0, 1, 0, 1], /twice/],
      [[0, t.strings.length], /bad string index/],
    ];
    if (emptyString >= 0) cases.push([[0, emptyString], /empty file/]);
    for (const [value, error] of cases) expect(() => deserializeTree({ ...t, mapped: value })).toThrow(error);
  });

  it('pass the agent protocol validator, which keeps them and refuses bad ones', () => {
    const record = (t: unknown) => ({ type: 'requests', session: 's1', seq: 1, requests: [{ id: 'r1', type: 'GET /x', startedAt: 1, durationMs: 1, outcome: 'ok', samples: 3, cpuUs: 0, waitingUs: 0, blockedUs: 0, tree: t }] });
    const msg = validateAgentMessage(record(tree()));
    expect(msg.type === 'requests' && msg.requests[0]!.tree.mapped).toEqual(tree().mapped);
    expect(() => validateAgentMessage(record({ ...tree(), mapped: [999, 0] }))).toThrow(/mapped/);
  });
});
