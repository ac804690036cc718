// Builds the self-contained Node agent bundle, dist/agent-bundle/node/, the files the injected init
// container copies into a pod (`sonde agent-bundle DIR`) and users outside Kubernetes load with
// `node --require DIR/preload.cjs app.js`:
//   preload.cjs          the --require entry (agent/preload.cjs): checks the runtime, main thread only
//   agent.cjs            the agent, esbuild-bundled with ws, pino and everything else it imports inlined
//   function-starts-worker.cjs  the worker thread that parses files for function starts, acorn inlined
//   native/<platform>/abi<N>/  the interrupt sampler's addon per Node ABI (agent/native/out/, scripts/build-native.mjs),
//                        under the platform it was built on (linux-x64-glibc here); elsewhere the agent uses V8's sampler
//   node_modules/        @datadog/pprof (V8's sampler, the fallback) with node-gyp-build and only the
//                        prebuilds for linux x64/arm64, glibc/musl, Node 20–24; found before any app copy
//   sonde-bundle.json    manifest: version, ABIs, files and their sizes (also how the agent knows it is bundled)
// `node scripts/build-agent-bundle.mjs`; run by `npm run build` after tsc and build-native.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outRoot = join(root, 'dist', 'agent-bundle');
const final = join(outRoot, 'node');
// Build beside, then swap in: a half-written bundle is never what `sonde agent-bundle` copies.
const out = join(outRoot, `.node-building-${process.pid}`);
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

/** Node ABIs (process.versions.modules) of Node 20, 21, 22, 23 and 24: the runtimes the bundle serves. */
const ABIS = ['115', '120', '127', '131', '137'];
const PLATFORMS = ['linux-x64', 'linux-arm64'];

// ws loads these optional native helpers in a try/catch; inside the bundle they must stay absent, not
// be looked up in the app's node_modules.
const absentOptional = {
  name: 'absent-optional',
  setup(b) {
    b.onResolve({ filter: /^(bufferutil|utf-8-validate)$/ }, (args) => ({ path: args.path, namespace: 'absent' }));
    b.onLoad({ filter: /.*/, namespace: 'absent' }, (args) => ({ contents: `throw new Error(${JSON.stringify(`${args.path} is not part of the Sonde agent bundle`)});`, loader: 'js' }));
  },
};

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const result = await build({
  entryPoints: [join(root, 'agent', 'start-from-env.ts')],
  outfile: join(out, 'agent.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  // The oldest runtime preload.cjs lets through; esbuild lowers nothing it supports.
  target: 'node20',
  // The agent is ESM and finds its addons and @datadog/pprof from import.meta.url: in the CommonJS
  // bundle that is the bundle file itself, so both resolve inside the bundle.
  define: { 'import.meta.url': '__sondeBundleUrl' },
  banner: { js: `'use strict';\nconst __sondeBundleUrl = require('node:url').pathToFileURL(__filename).href;` },
  // @datadog/pprof is loaded at run time from the bundle's own node_modules (its addon finds its
  // prebuilds next to its own files); everything else is inlined.
  external: ['@datadog/pprof', '@datadog/pprof/*'],
  plugins: [absentOptional],
  minify: false,
  keepNames: true,
  legalComments: 'eof',
  metafile: true,
  logLevel: 'warning',
});
const inputs = Object.keys(result.metafile.inputs);
const strays = inputs.filter((f) => /node_modules\/(bufferutil|utf-8-validate)\//.test(f));
if (strays.length > 0) throw new Error(`build-agent-bundle: optional native modules got bundled: ${strays.join(', ')}`);

// acorn belongs to the function-start worker alone: the app's thread never parses (agent/sampler/function-starts.ts).
if (inputs.some((f) => /node_modules\/acorn\//.test(f))) throw new Error('build-agent-bundle: acorn got into agent.cjs; it belongs to the function-start worker');

// The worker that parses files for function starts, with acorn inlined: it must never load the app's
// acorn (or fail on the app's broken one). The agent finds it beside agent.cjs.
const workerBuild = await build({
  entryPoints: [join(root, 'agent', 'sampler', 'function-starts-worker.ts')],
  outfile: join(out, 'function-starts-worker.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: false,
  legalComments: 'eof',
  metafile: true,
  logLevel: 'warning',
});
if (!Object.keys(workerBuild.metafile.inputs).some((f) => /node_modules\/acorn\//.test(f))) throw new Error('build-agent-bundle: acorn is missing from function-starts-worker.cjs');

copyFileSync(join(root, 'agent', 'preload.cjs'), join(out, 'preload.cjs'));

// The interrupt sampler, per ABI, under the platform it was built for (agent/sampler/native-addon.ts,
// platformKey, reads the same key at run time).
const libc = process.platform !== 'linux' ? '' : process.report.getReport().header.glibcVersionRuntime ? '-glibc' : '-musl';
const platformKey = `${process.platform}-${process.arch}${libc}`;
const nativeOut = join(root, 'agent', 'native', 'out');
const abis = [];
for (const abi of ABIS) {
  const src = join(nativeOut, `abi${abi}`, 'sonde_sampler.node');
  if (!existsSync(src)) continue;
  mkdirSync(join(out, 'native', platformKey, `abi${abi}`), { recursive: true });
  copyFileSync(src, join(out, 'native', platformKey, `abi${abi}`, 'sonde_sampler.node'));
  abis.push(abi);
}

// @datadog/pprof: only the two modules the wall sampler loads, node-gyp-build, and the prebuilds.
const modules = join(root, 'node_modules');
const pprof = join(modules, '@datadog', 'pprof');
const pprofOut = join(out, 'node_modules', '@datadog', 'pprof');
const copy = (from, to) => {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
};
for (const f of ['package.json', 'LICENSE', 'out/src/time-profiler-bindings.js', 'out/src/async-context-frame.js']) copy(join(pprof, f), join(pprofOut, f));
let prebuilds = 0;
for (const platform of PLATFORMS) {
  const dir = join(pprof, 'prebuilds', platform);
  for (const f of readdirSync(dir)) {
    const m = /^dd_pprof\.(?:musl\.)?node\.abi(\d+)\.node$/.exec(f);
    if (!m || !ABIS.includes(m[1])) continue;
    copy(join(dir, f), join(pprofOut, 'prebuilds', platform, f));
    prebuilds++;
  }
}
if (prebuilds !== PLATFORMS.length * ABIS.length * 2) throw new Error(`build-agent-bundle: expected ${PLATFORMS.length * ABIS.length * 2} @datadog/pprof prebuilds, found ${prebuilds}`);
const ngb = join(modules, 'node-gyp-build');
for (const f of ['package.json', 'LICENSE', 'index.js', 'node-gyp-build.js']) copy(join(ngb, f), join(out, 'node_modules', 'node-gyp-build', f));

/** Every file under dir with its size, sorted (the manifest lists them; the CLI checks they arrived). */
function listFiles(dir, base = dir) {
  const files = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) files.push(...listFiles(p, base));
    else files.push({ path: relative(base, p), bytes: statSync(p).size });
  }
  return files.sort((a, b) => a.path.localeCompare(b.path));
}
const files = listFiles(out);
const bytes = files.reduce((s, f) => s + f.bytes, 0);
const manifest = { name: 'sonde-agent-bundle', runtime: 'node', version: pkg.version, interruptSampler: { platform: platformKey, abis }, v8Sampler: { platforms: PLATFORMS, libc: ['glibc', 'musl'], abis: ABIS }, bytes, files };
writeFileSync(join(out, 'sonde-bundle.json'), JSON.stringify(manifest, null, 2) + '\n');
for (const f of [...files.map((f) => f.path), 'sonde-bundle.json']) chmodSync(join(out, f), 0o644);

rmSync(final, { recursive: true, force: true });
renameSync(out, final);
const agentKiB = (statSync(join(final, 'agent.cjs')).size / 1024).toFixed(0);
console.log(`build-agent-bundle: dist/agent-bundle/node/ (${(bytes / 1024 / 1024).toFixed(1)} MiB in ${files.length + 1} files; agent.cjs ${agentKiB} KiB; interrupt sampler for ${platformKey} ABI ${abis.join(', ') || 'none'})`);
