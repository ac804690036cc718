// Compares sampler candidates for attribution accuracy and CPU overhead, interleaved rounds.
// Usage: node test/bench/agent/sampler-compare/run.mjs [--rounds 5] [--interval 10000] [--seconds 3]
import { fork } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, interval: { type: 'string', default: '10000' }, seconds: { type: 'string', default: '3' }, nodes: { type: 'string', default: '20,24' }, modes: { type: 'string', default: 'none,dd,inspector' }, work: { type: 'string', default: '1' } } });
const here = fileURLToPath(new URL('.', import.meta.url));
const nodeBin = { 20: process.execPath, 22: new URL('../../../../node_modules/node22/bin/node', import.meta.url).pathname, 24: new URL('../../../../node_modules/node24/bin/node', import.meta.url).pathname };
const modes = values.modes.split(',');

async function load(port, ms, concurrency = 6) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const end = Date.now() + ms; let n = 0;
  const one = (path) => new Promise((res, rej) => http.get({ host: '127.0.0.1', port, path, agent }, (r) => { r.resume(); r.on('end', res); }).on('error', rej));
  await Promise.all(Array.from({ length: concurrency }, async (_, i) => { while (Date.now() < end) { await one(i % 2 ? '/b' : '/a'); n++; } }));
  agent.destroy();
  return n;
}

async function runOne(node, mode) {
  const child = fork(here + 'server.mjs', [mode, values.interval, values.work], { execPath: 'taskset', execArgv: ['-c', '1', nodeBin[node]], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const msg = () => new Promise((r) => child.once('message', r));
  const { port } = await msg();
  await load(port, 1000);
  child.send('mark');
  await load(port, Number(values.seconds) * 1000);
  child.send('report');
  const rep = await msg();
  child.kill();
  return rep;
}

const results = {};
for (let r = 0; r < Number(values.rounds); r++) {
  for (const node of values.nodes.split(',')) {
    const order = [...modes].sort(() => Math.random() - 0.5);
    const round = {};
    for (const m of order) round[m] = await runOne(node, m);
    for (const m of modes) {
      (results[`${node}/${m}`] ??= []).push({ ratio: round[m].cpuUsPerReq / round.none.cpuUsPerReq, ...round[m] });
    }
    console.error(`round ${r + 1} node ${node}: ` + modes.map((m) => `${m} ${round[m].cpuUsPerReq.toFixed(0)}us/req A=${JSON.stringify(round[m].stats.A)}`).join(' | '));
  }
}
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
for (const [k, rs] of Object.entries(results)) {
  const ratios = rs.map((x) => x.ratio);
  const agg = (t, f) => med(rs.map((x) => x.stats[t][f]));
  console.log(`${k}: cpu ratio median ${med(ratios).toFixed(3)} [${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}]` +
    ` A: samples ${agg('A', 'samples')} underHandler ${(agg('A', 'underHandler') * 100).toFixed(2)}% otherHot ${(agg('A', 'otherHot') * 100).toFixed(2)}% hotLeaf ${(agg('A', 'ownHotLeaf') * 100).toFixed(1)}%` +
    ` B: underHandler ${(agg('B', 'underHandler') * 100).toFixed(2)}% otherHot ${(agg('B', 'otherHot') * 100).toFixed(2)}% unattributedHot ${med(rs.map((x) => x.unattributedHot))}`);
}
