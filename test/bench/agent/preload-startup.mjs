// What the injected preload adds to a Node process's start: `node test/bench/agent/preload-startup.mjs
// [--rounds 21]` after `npm run build`. NODE_OPTIONS reaches every Node process in an injected
// container (the app, and any `npm start` wrapper or CLI child), so each pays this once. Per Node
// version (20, 22, 24): wall time of `node -e 0` bare and with `--require <bundle>/preload.cjs`
// (SONDE_URL set, so the agent is configured as in a pod; it dials only when the process serves, so
// nothing connects), interleaved, pinned to CPU 1 where taskset works; prints the medians and the
// difference. The bundle is copied by `sonde agent-bundle` into a scratch directory first.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { hasTaskset, nodeBinary } from './runtime.mjs';
import { quantile } from './stats.mjs';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '21' } } });
const rounds = Number(values.rounds);
const dir = mkdtempSync(join(tmpdir(), 'sonde-preload-bench-'));
try {
  execFileSync(process.execPath, [join(ROOT, 'dist/operator/cli.js'), 'agent-bundle', dir]);
  const preload = join(dir, 'preload.cjs');
  const env = { PATH: process.env.PATH, SONDE_URL: 'ws://127.0.0.1:9/v1/agents' };
  const time = (bin, args) => {
    const cmd = hasTaskset ? ['taskset', ['-c', '1', bin, ...args]] : [bin, args];
    const t = performance.now();
    execFileSync(cmd[0], cmd[1], { env, stdio: 'ignore' });
    return performance.now() - t;
  };
  for (const v of ['20', '22', '24']) {
    const bin = nodeBinary(v);
    const bare = [];
    const loaded = [];
    for (let i = 0; i < rounds; i++) {
      bare.push(time(bin, ['-e', '0']));
      loaded.push(time(bin, ['--require', preload, '-e', '0']));
    }
    const b = quantile(bare, 0.5);
    const l = quantile(loaded, 0.5);
    console.log(`node ${v}: bare ${b.toFixed(1)} ms, with the preload ${l.toFixed(1)} ms, +${(l - b).toFixed(1)} ms (medians of ${rounds})`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
