// What the injected sitecustomize adds to starting a Python process (`/usr/bin/python3 -c 0`), bare and with
// PYTHONPATH=dist/agent-bundle/python and SONDE_URL set as in a pod (nothing dials: the agent dials only
// once the process serves a request), interleaved, medians. Every Python process in an injected container
// pays it once. Run: node test/bench/python/startup.mjs [--rounds N] (after npm run build).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const { values: opt } = parseArgs({ options: { rounds: { type: 'string', default: '21' } } });
const base = { PATH: process.env.PATH, PYTHONDONTWRITEBYTECODE: '1' };
const modes = {
  bare: base,
  injected: { ...base, PYTHONPATH: join(ROOT, 'dist/agent-bundle/python'), SONDE_URL: 'ws://127.0.0.1:1/v1/agents', POD_NAME: 'p' },
};
const times = { bare: [], injected: [] };
for (let r = 0; r < Number(opt.rounds); r++) {
  for (const [name, env] of Object.entries(modes)) {
    const t0 = performance.now();
    const res = spawnSync('/usr/bin/python3', ['-c', '0'], { env });
    if (res.status !== 0) throw new Error(`${name}: ${res.stderr}`);
    times[name].push(performance.now() - t0);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`python3 -c 0, median of ${opt.rounds}: bare ${median(times.bare).toFixed(1)} ms, injected ${median(times.injected).toFixed(1)} ms, added ${(median(times.injected) - median(times.bare)).toFixed(1)} ms`);
