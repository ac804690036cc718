// Measures the warm-up pitfall (docs/adr/0001-node-sampler.md): code V8 optimised before the sampler
// started may lose its own frames for a while, its samples landing on the caller. A warm server, then
// a session at 1 ms; for each window after the session's start, the share of alpha's own samples whose
// leaf is hotAlpha (the hot function) rather than alphaHandler (its caller).
// Usage: node test/bench/agent/warmup.mjs [--warm 5] [--seconds 8] [--warmup-ms 0]
import http from 'node:http';
import { parseArgs } from 'node:util';
import { startAgent } from '../../../dist/agent/index.js';
import { deserializeTree } from '../../../dist/src/model/serialized.js';
import { plainApp, WORK } from '../../agent/fixtures/apps.mjs';

const { values: opt } = parseArgs({ options: { warm: { type: 'string', default: '5' }, seconds: { type: 'string', default: '8' }, 'warmup-ms': { type: 'string', default: '0' } } });
// The agent's own warm-up window off by default here: this script measures what it guards against.
const agent = startAgent({ logLevel: 'warn', samplerWarmupMs: Number(opt['warmup-ms']) });
const work = { alpha: WORK.alpha / 4, beta: WORK.beta / 4 };
const server = plainApp(work);
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 4 });
let stop = false;
const get = (path) => new Promise((res) => http.get({ host: '127.0.0.1', port, path, agent: keepAlive }, (r) => r.resume().on('end', res)).on('error', res));
const loops = Array.from({ length: 4 }, async (_, i) => {
  for (let k = 0; !stop; k++) await get(`/${i % 2 ? 'beta' : 'alpha'}/${k}`);
});
await new Promise((r) => setTimeout(r, Number(opt.warm) * 1000));

const windows = [0, 250, 500, 1000, 2000, 4000, 8000];
const acc = windows.map(() => ({ own: 0, hotLeaf: 0, callerLeaf: 0 }));
const session = agent.startSession({ request: 'GET /alpha/:id', requests: 10_000, durationMs: Number(opt.seconds) * 1000, sampleIntervalMs: 1 });
const t0 = Date.now();
session.onRequest((rec) => {
  const tree = deserializeTree(rec.tree);
  const at = rec.startedAt - t0;
  let w = 0;
  while (w + 1 < windows.length && at >= windows[w + 1]) w++;
  for (let i = 1; i < tree.size; i++) {
    const self = tree.self.samples[i];
    const f = tree.frame(i);
    if (!self || f.kind !== 'code') continue;
    acc[w].own += self;
    if (f.name === 'hotAlpha') acc[w].hotLeaf += self;
    else if (f.name === 'alphaHandler') acc[w].callerLeaf += self;
  }
});
await session.done;
stop = true;
await Promise.all(loops);
keepAlive.destroy();
server.close();
await agent.close();
console.log(`node ${process.version}, warm ${opt.warm}s before sampling, 1 ms interval, agent warm-up window ${opt['warmup-ms']} ms`);
console.log('| requests started | own samples | leaf hotAlpha | leaf alphaHandler (caller) |');
console.log('| --- | ---: | ---: | ---: |');
for (let w = 0; w < windows.length - 1; w++) {
  const a = acc[w];
  if (!a.own) continue;
  console.log(`| ${windows[w]}–${windows[w + 1]} ms | ${a.own} | ${((100 * a.hotLeaf) / a.own).toFixed(1)}% | ${((100 * a.callerLeaf) / a.own).toFixed(1)}% |`);
}
