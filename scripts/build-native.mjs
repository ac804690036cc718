// Builds the agent's interrupt sampler (agent/native/) for every Node.js runtime at hand, one addon per
// ABI in agent/native/out/abi<N>/sonde_sampler.node, where the agent looks for it.
//
// `node scripts/build-native.mjs [--strict] [--runtimes <node binary>,…]`. Runtimes by default: the
// Node.js running this script, and the Node 22 and 24 that the devDependencies bring (the agent is
// tested on all three). Headers come from each runtime's own include/node (Node's tarballs, Debian's
// nodejs-dev and the official images all have them), so nothing is downloaded. An addon is rebuilt
// only when it is older than its sources. Without --strict a failure is a warning: the agent then
// falls back to V8's sampler on that runtime (SONDE_SAMPLER=v8) and says so when a session starts.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'agent', 'native');
const sources = ['interrupt_sampler.cc', 'binding.gyp'].map((f) => join(src, f));
const args = process.argv.slice(2);
const strict = args.includes('--strict');
const at = args.indexOf('--runtimes');
const runtimes = at >= 0
  ? args[at + 1].split(',')
  : [process.execPath, ...['node22', 'node24'].map((p) => join(root, 'node_modules', p, 'bin', 'node')).filter(existsSync)];

const nodeGyp = (() => {
  try {
    return fileURLToPath(import.meta.resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    return undefined;
  }
})();

/** The directory holding include/node for a node binary (…/bin/node → …). */
function headersOf(binary) {
  const prefix = dirname(dirname(binary));
  return existsSync(join(prefix, 'include', 'node', 'node.h')) ? prefix : undefined;
}

const newestSource = Math.max(...sources.map((f) => statSync(f).mtimeMs));
let failed = 0;
for (const binary of runtimes) {
  const [abi, version] = execFileSync(binary, ['-p', 'process.versions.modules + " " + process.versions.node'], { encoding: 'utf8' }).trim().split(' ');
  const out = join(src, 'out', `abi${abi}`, 'sonde_sampler.node');
  if (existsSync(out) && statSync(out).mtimeMs >= newestSource) continue;
  const headers = headersOf(binary);
  const why = !nodeGyp ? 'node-gyp is not installed' : !headers ? `no Node.js headers next to ${binary}` : undefined;
  try {
    if (why) throw new Error(why);
    // Under npm, its configuration arrives as npm_config_* variables, and node-gyp lets them win over
    // its command line: a machine set up to build against one Node's headers (npm_config_nodedir)
    // would build every runtime's addon against those. Only this runtime's headers count here.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_(nodedir|target|runtime|disturl|dist_url|arch|node_gyp)$/i.test(k)));
    execFileSync(binary, [nodeGyp, 'rebuild', `--nodedir=${headers}`, `--target=${version}`, '--loglevel=warn'], { cwd: src, env, stdio: ['ignore', 'ignore', 'inherit'] });
    const built = join(src, 'build', 'Release', 'sonde_sampler.node');
    // The runtime must load what was built for it (an addon for another ABI refuses to load).
    execFileSync(binary, ['-e', `require(${JSON.stringify(built)})`], { stdio: ['ignore', 'ignore', 'pipe'] });
    mkdirSync(dirname(out), { recursive: true });
    // Copy, then rename over: a process that has the old addon loaded keeps its file; writing into it
    // in place would change code under a running process.
    copyFileSync(built, `${out}.tmp`);
    renameSync(`${out}.tmp`, out);
    console.log(`build-native: ${out.slice(root.length + 1)} (${binary})`);
  } catch (err) {
    failed++;
    console.error(`build-native: no interrupt sampler for ABI ${abi} (${binary}): ${err.message.split('\n')[0]}; the agent will use V8's sampler there`);
  }
}
if (failed > 0 && strict) process.exit(1);
