/**
 * Quick check of merge and (de)serialisation speed; not a test. Run:
 *   npx esbuild test/src/merge-speed.ts --bundle --platform=node --format=esm --outfile=/tmp/merge-speed.mjs && node /tmp/merge-speed.mjs
 */
import { mergeTrees } from '../../src/model/merge.js';
import { deserializeTree, serializeTree } from '../../src/model/serialized.js';
import { randomTree, requestLikeTrees, seededRandom, framePool } from './random-trees.js';

function time<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const r = fn();
  return [r, performance.now() - t0];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const rand = seededRandom(42);
const [trees, genMs] = time(() => requestLikeTrees(rand, 1000, 5000, 60_000));
console.log(`generated 1000 trees x ${trees[0]!.size} nodes in ${genMs.toFixed(0)} ms`);
const mergeMs: number[] = [];
let mergedSize = 0;
for (let r = 0; r < 5; r++) {
  const [m, ms] = time(() => mergeTrees(trees));
  mergedSize = m.size;
  mergeMs.push(ms);
}
console.log(`merge 1000 x 5000 (shared Frame objects) -> ${mergedSize} nodes: median ${median(mergeMs).toFixed(0)} ms (runs ${mergeMs.map((x) => x.toFixed(0)).join(', ')})`);

// As the operator meets them: each tree read from the wire or the store has its own Frame objects.
const wire = trees.map((t) => JSON.stringify(serializeTree(t)));
const [fromWire, deMs] = time(() => wire.map((w) => deserializeTree(JSON.parse(w))));
console.log(`parse+deserialize 1000 x 5000: ${deMs.toFixed(0)} ms`);
const wireMs: number[] = [];
for (let r = 0; r < 5; r++) wireMs.push(time(() => mergeTrees(fromWire))[1]);
console.log(`merge 1000 x 5000 (deserialized, distinct Frame objects): median ${median(wireMs).toFixed(0)} ms (runs ${wireMs.map((x) => x.toFixed(0)).join(', ')})`);

const big = randomTree(seededRandom(7), { nodes: 100_000, frames: framePool(5000) });
const ser: number[] = [];
const de: number[] = [];
const js: number[] = [];
for (let r = 0; r < 5; r++) {
  const [s, sMs] = time(() => serializeTree(big));
  const [text, jMs] = time(() => JSON.stringify(s));
  const [, dMs] = time(() => deserializeTree(JSON.parse(text)));
  ser.push(sMs);
  js.push(jMs);
  de.push(dMs);
}
console.log(`100k-node tree: serialize ${median(ser).toFixed(1)} ms, JSON.stringify ${median(js).toFixed(1)} ms, parse+deserialize ${median(de).toFixed(1)} ms`);
