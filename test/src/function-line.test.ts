import { describe, expect, it } from 'vitest';
import { Profile } from 'pprof-format';
import { byFunction, functionKey } from '../../src/model/by-function.js';
import { CallTreeBuilder } from '../../src/model/call-tree-builder.js';
import { frameKey, makeFrame, SYNTHETIC, withFunctionLine } from '../../src/model/frame.js';
import { statusHotspots, topHotspots } from '../../src/model/hotspots.js';
import { mergeTrees } from '../../src/model/merge.js';
import { type SerializedTree, deserializeTree, serializeTree } from '../../src/model/serialized.js';
import { treeToPprof } from '../../src/export/pprof.js';
import { pprofToTree } from '../../src/import/pprof.js';
import { validateAgentMessage } from '../../src/protocol/validate-agent-message.js';

// Frame.functionLine (the wire's `starts`, Sonde 0.4): where a frame's function begins. Two functions
// named `handler` in one file (lines 10 and 30), each sampled at two of its lines, and a class method
// `get` in two classes of one module.
const FILE = '/app/src/routes.js';
const root = makeFrame('serve', FILE, 60, 0, 'code', undefined, 58);
const h12 = makeFrame('handler', FILE, 12, 0, 'code', undefined, 10);
const h14 = makeFrame('handler', FILE, 14, 0, 'code', undefined, 10);
const h33 = makeFrame('handler', FILE, 33, 0, 'code', undefined, 30);
const getA = makeFrame('get', FILE, 42, 0, 'code', undefined, 41);
const getB = makeFrame('get', FILE, 52, 0, 'code', undefined, 51);
const w = (ms: number) => ({ samples: ms, wallUs: ms * 1000, cpuUs: 0 });

function twoHandlers(strip = false) {
  const f = (fr: typeof h12) => (strip ? makeFrame(fr.name, fr.file, fr.line, fr.column, fr.kind) : fr);
  const b = new CallTreeBuilder();
  b.addStack([f(root), f(h12)], w(40));
  b.addStack([f(root), f(h14)], w(10));
  b.addStack([f(root), f(h33)], w(30));
  b.addStack([f(root), f(getA)], w(15));
  b.addStack([f(root), f(getB)], w(5));
  b.addStack([f(root), SYNTHETIC.waiting], w(100));
  return b.build();
}

describe('a function start line in the model', () => {
  it('makeFrame validates it and keeps it out of the line-level identity', () => {
    expect(() => makeFrame('f', FILE, 3, 0, 'code', undefined, 0)).toThrow(/functionLine/);
    expect(() => makeFrame('f', FILE, 3, 0, 'code', undefined, 1.5)).toThrow(/functionLine/);
    expect(frameKey(h12)).toBe(frameKey(makeFrame('handler', FILE, 12)));
    expect(withFunctionLine(makeFrame('handler', FILE, 12), 10)).toEqual(h12);
    expect(withFunctionLine(h12, undefined)).toBe(h12);
  });

  it('keeps same-named functions of one file apart, each at its start line, lines as detail', () => {
    const fn = byFunction(twoHandlers());
    const handlers = fn.tree.frames.filter((f) => f.name === 'handler');
    expect(handlers.map((f) => [f.line, f.functionLine]).sort()).toEqual([[10, 10], [30, 30]]);
    expect(fn.tree.frames.filter((f) => f.name === 'get').map((f) => f.line).sort()).toEqual([41, 51]);
    const rows = topHotspots(fn.tree, { limit: 10 }).filter((r) => r.frame.name === 'handler');
    expect(rows.map((r) => [r.frame.line, r.self.samples])).toEqual([[10, 50], [30, 30]]);
    expect(statusHotspots(twoHandlers(), 5).map((h) => h.frame)).toEqual([
      'handler src/routes.js:10',
      'handler src/routes.js:30',
      'get src/routes.js:41',
      'get src/routes.js:51',
    ]);
    // Line detail: handler@10 merged lines 12 and 14; handler@30 was sampled at 33 only, which is not
    // the line its bar shows, so that line is still listed.
    const frameOf = (line: number) => fn.tree.frames.findIndex((f) => f.name === 'handler' && f.line === line);
    expect(fn.frameLines(frameOf(10)).map((l) => [l.line, l.self.samples])).toEqual([[12, 40], [14, 10]]);
    expect(fn.frameLines(frameOf(30)).map((l) => [l.line, l.self.samples])).toEqual([[33, 30]]);
    // Idempotent: the aggregated tree aggregates to itself.
    expect(byFunction(fn.tree).tree.frames.map((f) => `${f.name}:${f.line}`)).toEqual(fn.tree.frames.map((f) => `${f.name}:${f.line}`));
  });

  it('old trees without starts still merge same-named functions of a file, as before', () => {
    const fn = byFunction(twoHandlers(true));
    expect(fn.tree.frames.filter((f) => f.name === 'handler').map((f) => f.line)).toEqual([12]);
    expect(topHotspots(fn.tree, { limit: 10 }).filter((r) => r.frame.name === 'handler').map((r) => r.self.samples)).toEqual([80]);
    expect(functionKey(makeFrame('handler', FILE, 12))).toBe(functionKey(makeFrame('handler', FILE, 33)));
    expect(functionKey(h12)).not.toBe(functionKey(h33));
    expect(functionKey(h12)).toBe(functionKey(h14));
  });

  it('a merge of an old tree and a new one takes the start line the new one knows', () => {
    const merged = mergeTrees([twoHandlers(true), twoHandlers()]);
    expect(merged.frames.find((f) => f.name === 'handler' && f.line === 33)?.functionLine).toBe(30);
    expect(byFunction(merged).tree.frames.filter((f) => f.name === 'handler').map((f) => f.line).sort()).toEqual([10, 30]);
  });
});

describe('a tree merged from an older and a newer agent', () => {
  it('places frames without a start in the function of that name that begins last before their line', () => {
    const b = new CallTreeBuilder();
    b.addStack([root, h12], w(10));
    b.addStack([root, h33], w(10));
    b.addStack([root, makeFrame('handler', FILE, 14)], w(5)); // an older agent's frame, in handler@10
    b.addStack([root, makeFrame('handler', FILE, 35)], w(7)); // in handler@30
    b.addStack([root, makeFrame('handler', FILE, 5)], w(1)); // before any known start: stays on its own
    b.addStack([root, makeFrame('(anonymous)', FILE, 36)], w(1)); // anonymous: never guessed
    const fn = byFunction(b.build());
    const rows = topHotspots(fn.tree, { limit: 10 }).filter((r) => r.frame.name === 'handler').map((r) => [r.frame.line, r.frame.functionLine, r.self.samples]);
    expect(rows).toEqual([[30, 30, 17], [10, 10, 15], [5, undefined, 1]]);
    expect(fn.tree.frames.find((f) => f.name === '(anonymous)')?.functionLine).toBeUndefined();
    // A diff's other side counts too: an old tree compared with a new one pairs the function.
    const old = new CallTreeBuilder();
    old.addStack([makeFrame('handler', FILE, 35)], w(3));
    const paired = byFunction(old.build(), { alsoLinesOf: [h33] }).tree.frames.find((f) => f.name === 'handler')!;
    expect([paired.line, paired.functionLine]).toEqual([30, 30]);
  });
});

describe('starts in the wire form', () => {
  const wire = (): SerializedTree => serializeTree(twoHandlers());

  it('round-trip through JSON; trees without any keep the old form', () => {
    const t = wire();
    expect(t.starts!.length).toBe(2 * t.frames.length / 5 - 2); // every frame but the synthetic one
    const back = deserializeTree(JSON.parse(JSON.stringify(t)));
    expect(back.frames.find((f) => f.line === 33)?.functionLine).toBe(30);
    expect(back.frames.find((f) => f === SYNTHETIC.waiting || f.name === SYNTHETIC.waiting.name)?.functionLine).toBeUndefined();
    expect(Object.keys(serializeTree(twoHandlers(true)))).toEqual(['version', 'strings', 'frames', 'nodes']);
    // A reader of the old form (no starts) gets the same tree as before.
    const { starts: _, ...old } = t;
    expect(deserializeTree(old).frames.every((f) => f.functionLine === undefined)).toBe(true);
  });

  it('are rejected when malformed: odd, out of range, twice, a line below 1, a fraction, too many', () => {
    const t = wire();
    const frameCount = t.frames.length / 5;
    const cases: [unknown, RegExp][] = [
      ['x', /pairs/],
      [{ 0: 1 }, /pairs/],
      [[0], /pairs/],
      [[frameCount, 1], /bad frame/],
      [[-1, 1], /bad frame/],
      [[0.5, 1], /bad frame/],
      [['0', 1], /bad frame/],
      [[0, 1, 0, 2], /twice/],
      [[0, 0], /bad line/],
      [[0, -3], /bad line/],
      [[0, 2.5], /bad line/],
      [[0, '7'], /bad line/],
      [[0, null], /bad line/],
      [[0, 2 ** 31], /bad line/],
      [[0, Number.POSITIVE_INFINITY], /bad line/],
      [Array.from({ length: frameCount * 2 + 2 }, (_, i) => (i % 2 === 0 ? i / 2 : 1)), /more pairs than there are frames/],
    ];
    for (const [value, error] of cases) expect(() => deserializeTree({ ...t, starts: value })).toThrow(error);
  });

  it('pass the agent protocol validator, which keeps them and refuses bad ones with a clear error', () => {
    const record = (t: unknown) => ({ type: 'requests', session: 's1', seq: 1, requests: [{ id: 'r1', type: 'GET /x', startedAt: 1, durationMs: 1, outcome: 'ok', samples: 3, cpuUs: 0, waitingUs: 0, blockedUs: 0, tree: t }] });
    const msg = validateAgentMessage(record(wire()));
    expect(msg.type === 'requests' && msg.requests[0]!.tree.starts).toEqual(wire().starts);
    expect(() => validateAgentMessage(record({ ...wire(), starts: [0, 0] }))).toThrow(/requests\[0\]\.tree: tree: starts gives frame 0 a bad line 0/);
  });

  it('accept the Python agent\'s pairs (co_firstlineno) as specified', () => {
    // A tree as agent/python writes it: frames `view`, `compute`, `compute` (two defs in one file).
    const t: SerializedTree = {
      version: 1,
      strings: ['view', '/srv/app/views.py', 'compute'],
      frames: [0, 1, 8, 0, 0, 2, 1, 20, 0, 0, 2, 1, 41, 0, 0],
      nodes: [0, 0, 0, 0, 0, 1, 1, 5, 5000, 5000, 1, 2, 3, 3000, 3000],
      starts: [0, 5, 1, 18, 2, 39],
    };
    const fn = byFunction(deserializeTree(t));
    expect(fn.tree.frames.map((f) => `${f.name}:${f.line}`)).toEqual(['view:5', 'compute:18', 'compute:39']);
  });
});

describe('pprof carries it as Function.start_line', () => {
  it('exports each function with its start line and reads it back', () => {
    const bytes = treeToPprof(twoHandlers());
    const p = Profile.decode(bytes);
    const str = (i: unknown) => p.stringTable.strings[Number(i)];
    expect(p.function.filter((f) => str(f.name) === 'handler').map((f) => Number(f.startLine)).sort()).toEqual([10, 30]);
    const back = pprofToTree(bytes);
    expect(back.frames.filter((f) => f.name === 'handler').map((f) => [f.line, f.functionLine]).sort()).toEqual([[12, 10], [14, 10], [33, 30]]);
  });
});
