// What resolving frames through a source map costs the agent: the first lookup in a file reads and
// parses its map (once); every later one is a binary search. Run: npm run build && node test/bench/agent/source-map-cost.mjs
import { fileURLToPath } from 'node:url';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { SourceMapResolver } from '../../../dist/agent/sampler/source-maps.js';
// A big bundle: the operator's CLI with its dependencies, with an external map.
const d = mkdtempSync(join(tmpdir(), 'sm-bench-'));
const outfile = join(d, 'big.js');
buildSync({ entryPoints: [fileURLToPath(new URL('../../../operator/cli.ts', import.meta.url))], bundle: true, platform: 'node', format: 'esm', sourcemap: 'linked', outfile, logLevel: 'silent', packages: 'bundle', external: ['better-sqlite3', '*.node'] });
const { statSync, readFileSync } = await import('node:fs');
const lines = readFileSync(outfile, 'utf8').split('\n').length;
console.log('bundle', (statSync(outfile).size / 1024).toFixed(0), 'KiB, map', (statSync(outfile + '.map').size / 1024).toFixed(0), 'KiB,', lines, 'lines');
const r = new SourceMapResolver();
const m0 = process.memoryUsage().heapUsed;
let t = process.hrtime.bigint();
r.resolve(outfile, 100, 1);
console.log('first resolve (read + parse):', Number(process.hrtime.bigint() - t) / 1e6, 'ms; heap +', ((process.memoryUsage().heapUsed - m0) / 1048576).toFixed(1), 'MiB');
t = process.hrtime.bigint();
let hits = 0;
for (let i = 0; i < 100_000; i++) if (r.resolve(outfile, 1 + (i % lines), 0)) hits++;
console.log('resolve after:', (Number(process.hrtime.bigint() - t) / 1e5 / 1000).toFixed(2), 'µs each;', hits, 'of 100000 mapped');
