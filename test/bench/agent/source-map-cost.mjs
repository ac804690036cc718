// What resolving frames through a source map costs the agent, decoder beside decoder: the agent's own
// (SourceMapResolver over SourceMapMappings), @jridgewell/trace-mapping (the well-kept library), and
// Node's own module.SourceMap. The first lookup in a file reads and parses its map (once); every later
// one is a search. Each decoder runs in a fresh child process (a clean heap), rounds interleaved in a
// fresh random order; medians and spreads. Run: npm run build && node test/bench/agent/source-map-cost.mjs [--rounds N]
// Instruction counts of the first lookup alone (CPU time is noisy here): run one child under callgrind
// with --first-only, and subtract the same run with the decoder `none`:
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null node --expose-gc test/bench/agent/source-map-cost.mjs --child agent --file BIG.js --first-only
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = fileURLToPath(import.meta.url);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const DECODERS = ['agent', 'trace-mapping', 'node'];
const LOOKUPS = 100_000;

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, child: { type: 'string' }, file: { type: 'string' }, 'first-only': { type: 'boolean', default: false } } });
if (values.child) await child(values.child, values.file, values['first-only']);
else await parent(Number(values.rounds));

/** One decoder, one file: the first lookup's time and heap, the heap kept after it, later lookups' cost. */
async function child(decoder, js, firstOnly) {
  const { SourceMapResolver, mappingUrl } = await import(join(root, 'dist/agent/sampler/source-maps.js'));
  const lines = readFileSync(js, 'utf8').split('\n').length;
  // The same steps as the agent for the two others: read the compiled file, find its comment, read
  // and parse the map; drop sourcesContent (the agent never keeps it) before building the index.
  const fromFile = (build) => {
    const mapFile = join(js, '..', mappingUrl(readFileSync(js)));
    const payload = JSON.parse(readFileSync(mapFile, 'utf8'));
    delete payload.sourcesContent;
    return build(payload, mapFile);
  };
  const tm = await import('@jridgewell/trace-mapping');
  let find;
  globalThis.gc();
  const h0 = process.memoryUsage().heapUsed;
  const t0 = process.hrtime.bigint();
  if (decoder === 'agent') {
    const r = new SourceMapResolver();
    find = (l, c) => r.resolve(js, l, c);
  } else if (decoder === 'trace-mapping') {
    let map;
    find = (l, c) => {
      map ??= fromFile((p, url) => new tm.TraceMap(p, url));
      return tm.originalPositionFor(map, { line: l, column: Math.max(0, c - 1) }).source;
    };
  } else if (decoder === 'none') {
    find = () => null; // the baseline for instruction counts: everything but the decoding
  } else {
    const { SourceMap } = await import('node:module');
    let map;
    find = (l, c) => {
      map ??= fromFile((p) => new SourceMap(p));
      return map.findEntry(l - 1, Math.max(0, c - 1)).originalSource;
    };
  }
  find(100, 1);
  if (firstOnly) return;
  const firstMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const peak = process.memoryUsage().heapUsed - h0;
  globalThis.gc();
  const kept = process.memoryUsage().heapUsed - h0;
  const t1 = process.hrtime.bigint();
  let hits = 0;
  for (let i = 0; i < LOOKUPS; i++) if (find(1 + (i % lines), 1 + ((i * 7) % 80))) hits++;
  const perUs = Number(process.hrtime.bigint() - t1) / 1e3 / LOOKUPS;
  process.stdout.write(JSON.stringify({ firstMs, peakMiB: peak / 1048576, keptMiB: kept / 1048576, perUs, hits }));
}

async function parent(rounds) {
  const { buildSync } = await import('esbuild');
  // A big bundle: the operator's CLI with its dependencies, with an external map.
  const d = mkdtempSync(join(tmpdir(), 'sm-bench-'));
  const js = join(d, 'big.js');
  buildSync({ entryPoints: [join(root, 'operator/cli.ts')], bundle: true, platform: 'node', format: 'esm', sourcemap: 'linked', outfile: js, logLevel: 'silent', packages: 'bundle', external: ['better-sqlite3', '*.node'] });
  const lines = readFileSync(js, 'utf8').split('\n').length;
  console.log(`bundle ${(statSync(js).size / 1048576).toFixed(1)} MiB, map ${(statSync(`${js}.map`).size / 1048576).toFixed(1)} MiB, ${lines} lines; ${rounds} rounds; Node ${process.version}`);
  // What the library would add to dist/agent-bundle/node/agent.cjs, bundled as build-agent-bundle.mjs bundles.
  const lib = buildSync({ stdin: { contents: "export { TraceMap, originalPositionFor, FlattenMap } from '@jridgewell/trace-mapping';", resolveDir: root }, bundle: true, platform: 'node', format: 'cjs', target: 'node20', minify: false, keepNames: true, legalComments: 'eof', write: false });
  console.log(`@jridgewell/trace-mapping bundled as the agent bundle is (not minified): +${(lib.outputFiles[0].contents.length / 1024).toFixed(1)} KiB`);

  const runs = Object.fromEntries(DECODERS.map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    const order = [...DECODERS].sort(() => Math.random() - 0.5);
    for (const k of order) {
      const out = execFileSync(process.execPath, ['--expose-gc', here, '--child', k, '--file', js], { cwd: root, encoding: 'utf8' });
      runs[k].push(JSON.parse(out));
    }
  }
  rmSync(d, { recursive: true, force: true });
  const stat = (xs, f) => {
    const v = xs.map((x) => x[f]).sort((a, b) => a - b);
    const fmt = (n) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
    return `${fmt(v[Math.floor(v.length / 2)])} (${fmt(v[0])}–${fmt(v[v.length - 1])})`;
  };
  console.log('| decoder | first lookup, ms | heap at first lookup, MiB | heap kept after GC, MiB | later lookups, µs | mapped of 100k |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const k of DECODERS) console.log(`| ${k} | ${stat(runs[k], 'firstMs')} | ${stat(runs[k], 'peakMiB')} | ${stat(runs[k], 'keptMiB')} | ${stat(runs[k], 'perUs')} | ${runs[k][0].hits} |`);
}
