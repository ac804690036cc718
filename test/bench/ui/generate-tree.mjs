// A seeded generator of call trees shaped like real JavaScript profiles, for the UI benchmark:
// samples are random walks down a synthetic call graph (frameworks' long middleware chains, a
// power-law of hot callees, recursion, library and native frames, waiting and GC), added to the real
// CallTreeBuilder until the tree has the requested number of nodes. Same seed, same tree.
import { CallTreeBuilder, SYNTHETIC, makeFrame } from '../../../dist/src/model/index.js';

/** mulberry32: a small, good-enough seeded PRNG. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VERBS = ['get', 'load', 'render', 'parse', 'validate', 'resolve', 'compute', 'format', 'build', 'apply', 'merge', 'find', 'map', 'reduce', 'serialize', 'handle', 'dispatch', 'encode', 'decode', 'transform', 'fetch', 'write', 'read', 'check', 'sort'];
const NOUNS = ['Order', 'Invoice', 'User', 'Cart', 'Price', 'Tax', 'Item', 'Row', 'Template', 'Query', 'Schema', 'Token', 'Session', 'Header', 'Body', 'Node', 'Chunk', 'Buffer', 'Route', 'Plan', 'Cache', 'Entry', 'Line', 'Field', 'Record'];
const LIBS = ['express/lib/router', 'express/lib', 'body-parser/lib', 'lodash', 'ajv/dist', 'pg/lib', 'handlebars/dist', 'luxon/src', 'zod/lib', 'undici/lib', 'ioredis/built'];

/**
 * Generates a SerializedTree-ready CallTree of about `nodes` nodes.
 * Options: seed (default 42), functions (call-graph size, default 4000), intervalUs (default 10000).
 */
export function generateTree({ nodes = 100_000, seed = 42, functions = 12000, intervalUs = 10_000 } = {}) {
  const r = rng(seed);
  const pick = (arr) => arr[Math.floor(r() * arr.length)];
  // The call graph: functions in app files and libraries, each with a few callees; heavier callees
  // come first and are picked with a power law, like real hot paths.
  const fns = [];
  for (let i = 0; i < functions; i++) {
    const lib = r() < 0.45;
    const file = lib ? `/app/node_modules/${pick(LIBS)}/${pick(NOUNS).toLowerCase()}.js` : `/app/src/${pick(NOUNS).toLowerCase()}s/${pick(VERBS)}-${pick(NOUNS).toLowerCase()}.js`;
    const native = r() < 0.04;
    const name = native ? `${pick(['JSON.parse', 'JSON.stringify', 'Array.prototype.sort', 'String.prototype.replace', 'RegExp.prototype.exec', 'Buffer.from', 'zlib.deflateSync', 'crypto.createHash'])}` : `${pick(VERBS)}${pick(NOUNS)}${r() < 0.3 ? pick(NOUNS) : ''}`;
    fns.push({ frame: native ? makeFrame(name, '', 0, 0, 'native') : makeFrame(name, file, 1 + Math.floor(r() * 900), 1 + Math.floor(r() * 40)), callees: [] });
  }
  for (let i = 0; i < functions; i++) {
    const n = fns[i].frame.kind === 'native' ? 0 : 1 + Math.floor(r() ** 1.4 * 7);
    for (let k = 0; k < n; k++) fns[i].callees.push(Math.floor(r() ** 1.3 * functions));
  }
  // Entry points: a few routes, each behind a long framework prefix.
  const routes = ['GET /api/orders/:id', 'POST /api/cart', 'GET /api/invoices/:id', 'GET /health'];
  const prefix = [];
  for (let i = 0; i < 14; i++) prefix.push(makeFrame(i % 2 ? 'next' : 'handle', `/app/node_modules/express/lib/router/${i % 3 ? 'layer' : 'index'}.js`, 95 + i * 7, 5));
  const roots = routes.map((t) => makeFrame(t, '', 0, 0, 'synthetic'));
  const entries = routes.map(() => 1 + Math.floor(r() * (functions - 1)));

  const b = new CallTreeBuilder();
  const w = (wall, cpuShare) => ({ samples: 1, wallUs: wall, cpuUs: wall * cpuShare });
  let guard = 0;
  while (b.size < nodes && guard++ < 5_000_000) {
    const ri = Math.min(routes.length - 1, Math.floor(r() ** 2 * routes.length));
    const stack = [roots[ri]];
    const u = r();
    if (u < 0.2) {
      stack.push(SYNTHETIC.waiting);
      b.addStack(stack, w(intervalUs * (1 + r()), 0));
      continue;
    }
    if (u < 0.24) {
      stack.push(u < 0.22 ? SYNTHETIC.otherWork : SYNTHETIC.gc);
      b.addStack(stack, w(intervalUs, 0.9));
      continue;
    }
    for (const f of prefix) stack.push(f);
    let fn = entries[ri];
    const maxDepth = 8 + Math.floor(r() * 60);
    for (let d = 0; d < maxDepth; d++) {
      const f = fns[fn];
      stack.push(f.frame);
      if (f.callees.length === 0 || r() < 0.05) break;
      fn = f.callees[Math.min(f.callees.length - 1, Math.floor(r() ** 1.5 * f.callees.length))];
    }
    if (b.size + stack.length > nodes && b.size > nodes * 0.98) break;
    b.addStack(stack, w(intervalUs * (0.8 + 0.4 * r()), 0.95));
  }
  return b.build();
}

/**
 * The drawing worst case: `chains` stacks of `depth` frames under the root, all equally heavy, so at
 * 1,440 px every one of the `chains × depth` nodes is wide enough to draw (no subtree is skipped), and
 * neighbours alternate between app code, library code and native frames, so no two thin neighbours
 * share a colour and the renderer cannot merge them.
 */
export function generateWorstCase({ chains = 2000, depth = 50, seed = 7 } = {}) {
  const r = rng(seed);
  const kinds = [
    (i) => makeFrame(`${VERBS[i % VERBS.length]}${NOUNS[(i * 7) % NOUNS.length]}${i}`, `/app/src/chain/${i % 40}.js`, 1 + i, 1),
    (i) => makeFrame(`${VERBS[(i * 3) % VERBS.length]}${i}`, `/app/node_modules/lodash/chain${i % 40}.js`, 1 + i, 1),
    (i) => makeFrame(`native${i}`, '', 0, 0, 'native'),
  ];
  const pools = kinds.map((make) => Array.from({ length: 200 }, (_, i) => make(i)));
  const b = new CallTreeBuilder();
  for (let c = 0; c < chains; c++) {
    const stack = [makeFrame(`entry${c}`, '/app/src/entry.js', 1 + c, 1)];
    for (let d = 1; d < depth; d++) {
      const pool = pools[(c + d) % 3];
      stack.push(pool[Math.floor(r() * pool.length)]);
    }
    b.addStack(stack, { samples: 1, wallUs: 10_000, cpuUs: 9_000 });
  }
  return b.build();
}
