// What tracking a unit of work costs, without HTTP: `npm run bench:agent:tracking [-- --node 24 --rounds 8]`.
//
// The HTTP benchmark (run.mjs) reads the agent's whole cost on a server, but its ratios move by several
// percent between runs. Here the agent's per-unit work is isolated and its CPU counted over 200,000
// units per process: units through the agent's tracker with no agent / an idle agent / the sampler on
// with nothing tracked / every unit tracked at 10 ms / at 1 ms / at 10 ms with every session of 10,000
// units starting and stopping the sampler (tracking-worker.mjs), each mode in a fresh process per
// round, pinned to CPU 1, rounds in a fresh random order. It prints the median CPU per unit and what
// each mode adds over "no agent"; "tracked − sampler on" is the price of tracking one request (its
// context, state, record and JSON), the figure to drive down; "restart10 − track10", times 10,000, is
// what starting and stopping the sampler costs once.
// SONDE_AGENT_DIST=/path/to/dist/agent measures another build.
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { hasTaskset, nodeBinary } from './runtime.mjs';
import { quantile } from './stats.mjs';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HERE = fileURLToPath(new URL('.', import.meta.url));
const { values: opt } = parseArgs({
  options: {
    node: { type: 'string', default: '24' },
    'node-flags': { type: 'string', default: '' },
    rounds: { type: 'string', default: '8' },
    modes: { type: 'string', default: 'none,idle,nomatch,track10,track1,restart10' },
  },
});
const LABELS = {
  none: 'no agent',
  idle: 'agent idle',
  nomatch: 'sampler on (10 ms), nothing tracked',
  track10: 'every unit tracked, 10 ms',
  track1: 'every unit tracked, 1 ms',
  restart10: 'every unit tracked, 10 ms, each session starting the sampler',
};
const DIST = process.env.SONDE_AGENT_DIST ?? join(ROOT, 'dist/agent');

function measure(mode, nodeBin) {
  const flags = opt['node-flags'].split(' ').filter(Boolean);
  const exec = hasTaskset ? { execPath: 'taskset', execArgv: ['-c', '1', nodeBin, ...flags] } : { execPath: nodeBin, execArgv: flags };
  const child = fork(join(HERE, 'tracking-worker.mjs'), [mode], { ...exec, env: { ...process.env, SONDE_AGENT_DIST: DIST } });
  return new Promise((resolve, reject) => {
    let result;
    child.on('message', (m) => (result = m.nsPerUnit));
    child.on('exit', (code) => (result === undefined ? reject(new Error(`${mode} exited (${code}) without a result`)) : resolve(result)));
  });
}

if (!existsSync(join(DIST, 'profiling/profiler.js'))) throw new Error(`${DIST} is missing: run \`npm run build\` (npm run bench:agent:tracking does)`);
const modes = opt.modes.split(',');
if (!modes.includes('none')) throw new Error('the modes must include "none": it is the baseline');
const nodeBin = nodeBinary(opt.node);
const results = Object.fromEntries(modes.map((m) => [m, []]));
for (let r = 0; r < Number(opt.rounds); r++) {
  const order = [...modes].sort(() => Math.random() - 0.5);
  const round = {};
  for (const mode of order) round[mode] = await measure(mode, nodeBin);
  for (const mode of modes) results[mode].push({ ns: round[mode], added: round[mode] - round.none, overNomatch: round.nomatch === undefined ? undefined : round[mode] - round.nomatch });
  console.error(`round ${r + 1}: ` + modes.map((m) => `${m} ${round[m].toFixed(0)} ns`).join('  '));
}
const med = (xs) => quantile(xs, 0.5);
const iqr = (xs) => `${quantile(xs, 0.25).toFixed(0)}–${quantile(xs, 0.75).toFixed(0)}`;
console.log(`\nnode ${opt.node}${opt['node-flags'] ? ` ${opt['node-flags']}` : ''}; ${opt.rounds} rounds, a fresh process per mode per round, 200,000 units each (20 sessions of 10,000)\n`);
console.log('| mode | CPU ns/unit (median) | added over no agent, ns (median; IQR) | added over sampler on, ns (median; IQR) |');
console.log('| --- | ---: | ---: | ---: |');
for (const mode of modes) {
  const rs = results[mode];
  const over = rs.map((x) => x.overNomatch).filter((x) => x !== undefined);
  const overCell = mode.startsWith('track') && over.length ? `${med(over).toFixed(0)} (${iqr(over)})` : '';
  console.log(`| ${LABELS[mode] ?? mode} | ${med(rs.map((x) => x.ns)).toFixed(0)} | ${med(rs.map((x) => x.added)).toFixed(0)} (${iqr(rs.map((x) => x.added))}) | ${overCell} |`);
}
