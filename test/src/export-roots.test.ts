import { describe, expect, it } from 'vitest';
import { Profile } from 'pprof-format';
import { treeToCollapsed } from '../../src/export/collapsed.js';
import { treeToCpuProfile } from '../../src/export/cpuprofile.js';
import { treeToD3, type D3Node } from '../../src/export/d3-hierarchy.js';
import { exportFormat } from '../../src/export/index.js';
import { treeToPprof } from '../../src/export/pprof.js';
import { treeToSpeedscope } from '../../src/export/speedscope.js';
import { pprofToTree } from '../../src/import/pprof.js';
import { CallTreeBuilder } from '../../src/model/call-tree-builder.js';
import { makeFrame } from '../../src/model/frame.js';

/**
 * Every export writes a file inside an application root relative to it (the one rule of
 * source-path.ts), and every other file as the agent reported it.
 */
const ROOTS = ['/srv/shop', '/srv/shop/packages/api'];
const frames = {
  handler: makeFrame('', '/srv/shop/packages/api/src/server.js', 10, 3),
  price: makeFrame('priceOrders', '/srv/shop/packages/api/src/orders.js', 24, 1),
  lib: makeFrame('route', '/srv/shop/node_modules/express/lib/router.js', 5, 1),
  internal: makeFrame('processTicksAndRejections', 'node:internal/process/task_queues', 95, 5),
  other: makeFrame('helper', '/opt/shared/helper.js', 7, 2),
};
function tree() {
  const b = new CallTreeBuilder();
  const w = (n: number) => ({ samples: n, wallUs: n * 1000, cpuUs: n * 900 });
  b.addStack([frames.internal, frames.handler, frames.lib, frames.price], w(10));
  b.addStack([frames.internal, frames.handler, frames.other], w(3));
  return b.build();
}
const want = new Map([
  ['priceOrders', 'src/orders.js'],
  ['route', 'node_modules/express/lib/router.js'],
  ['processTicksAndRejections', 'node:internal/process/task_queues'],
  ['helper', '/opt/shared/helper.js'],
]);

describe('exports with application roots', () => {
  it('pprof: Function.filename relative to the root, the rest as reported; the import reads it back', () => {
    const p = Profile.decode(treeToPprof(tree(), { roots: ROOTS }));
    const str = (i: number | bigint): string => p.stringTable.strings[Number(i)]!;
    const files = new Map(p.function.map((f) => [str(f.name), str(f.filename)]));
    for (const [name, file] of want) expect(files.get(name)).toBe(file);
    expect(files.get('(anonymous)') ?? files.get('')).toBe('src/server.js');
    expect(pprofToTree(treeToPprof(tree(), { roots: ROOTS })).frames.find((f) => f.name === 'priceOrders')!.file).toBe('src/orders.js');
    // Without roots, as before: the paths the agent reported.
    const plain = Profile.decode(treeToPprof(tree()));
    expect(plain.function.map((f) => plain.stringTable.strings[Number(f.filename)])).toContain('/srv/shop/packages/api/src/orders.js');
  });

  it('speedscope, cpuprofile and d3: the same files', () => {
    const ss = treeToSpeedscope(tree(), { roots: ROOTS });
    for (const [name, file] of want) expect(ss.shared.frames.find((f) => f.name === name)!.file).toBe(file);
    const cp = treeToCpuProfile(tree(), { roots: ROOTS });
    for (const [name, file] of want) expect(cp.nodes.find((n) => n.callFrame.functionName === name)!.callFrame.url).toBe(file);
    const seen = new Map<string, string>();
    const walk = (n: D3Node): void => {
      seen.set(n.name, n.file);
      n.children.forEach(walk);
    };
    walk(treeToD3(tree(), { roots: ROOTS }));
    for (const [name, file] of want) expect(seen.get(name)).toBe(file);
  });

  it('collapsed: an anonymous function is named by its path from the root (elsewhere by its base name)', () => {
    const text = treeToCollapsed(tree(), { roots: ROOTS });
    expect(text).toContain('processTicksAndRejections;(anonymous src/server.js:10);route;priceOrders 10\n');
    expect(treeToCollapsed(tree())).toContain(';(anonymous server.js:10);');
  });

  it('the export registry passes the roots to every format', () => {
    for (const format of ['pprof', 'collapsed', 'speedscope', 'cpuprofile', 'd3'] as const) {
      const out = exportFormat(format).export(tree(), { roots: ROOTS });
      const text = typeof out === 'string' ? out : Buffer.from(out).toString('latin1');
      expect(text, format).toContain('src/server.js');
      expect(text, format).not.toContain('/srv/shop/packages/api/src/server.js');
    }
  });
});
