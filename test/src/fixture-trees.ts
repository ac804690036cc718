import { CallTreeBuilder } from '../../src/model/call-tree-builder.js';
import type { CallTree } from '../../src/model/call-tree.js';
import { type Frame, SYNTHETIC, frameKey, makeFrame } from '../../src/model/frame.js';
import { WEIGHT_NAMES, type Weights } from '../../src/model/weights.js';

export const F = {
  request: makeFrame('GET /orders/:id', '', 0, 0, 'synthetic'),
  handler: makeFrame('handleOrder', '/app/src/routes/orders.js', 12, 3),
  render: makeFrame('renderInvoice', '/app/src/views/invoice.js', 42, 10),
  fib: makeFrame('fib', '/app/src/lib/math.js', 2, 13),
  anon: makeFrame('', '/app/src/lib/math.js', 30, 7),
  stringify: makeFrame('stringify', '', 0, 0, 'native'),
  semi: makeFrame('weird;name\nwith breaks', '/app/src/odd.js', 1, 1),
};

/**
 * A small tree with every kind of frame a real session has: a synthetic request root, code,
 * recursion (fib → fib → fib), an anonymous function, native code, waiting, idle and GC.
 */
export function sessionTree(): CallTree {
  const b = new CallTreeBuilder();
  const w = (samples: number, cpu = true): Weights => ({ samples, wallUs: samples * 1000, cpuUs: cpu ? samples * 900 : 0 });
  b.addStack([F.request, F.handler], w(2));
  b.addStack([F.request, F.handler, F.render], w(30));
  b.addStack([F.request, F.handler, F.render, F.stringify], w(8));
  b.addStack([F.request, F.handler, F.fib], w(5));
  b.addStack([F.request, F.handler, F.fib, F.fib], w(7));
  b.addStack([F.request, F.handler, F.fib, F.fib, F.fib], w(11));
  b.addStack([F.request, F.handler, F.anon], w(3));
  b.addStack([F.request, F.handler, F.semi], w(1));
  b.addStack([F.request, SYNTHETIC.waiting], { samples: 20, wallUs: 25_000, cpuUs: 0 });
  b.addStack([F.request, SYNTHETIC.gc], w(2));
  b.addStack([SYNTHETIC.idle], w(9, false));
  return b.build();
}

/** Each path (frame keys from the top) with its self weights: what a tree means, whatever its node order. */
export function pathWeights(tree: CallTree, key: (f: Frame) => string = frameKey): Map<string, Weights> {
  const out = new Map<string, Weights>();
  const paths: string[] = [''];
  for (let i = 1; i < tree.size; i++) {
    paths[i] = `${paths[tree.parentOf(i)]}|${key(tree.frame(i)!)}`;
    const prev = out.get(paths[i]!) ?? { samples: 0, wallUs: 0, cpuUs: 0 };
    const s = tree.selfOf(i);
    for (const n of WEIGHT_NAMES) prev[n] += s[n];
    out.set(paths[i]!, prev);
  }
  // Paths with no self weight carry no information a format must keep.
  for (const [k, v] of out) if (!v.samples && !v.wallUs && !v.cpuUs) out.delete(k);
  return out;
}
