#!/usr/bin/env node
// Admission webhook benchmark (`node test/bench/webhook/run.mjs`; expects a build in dist/).
//
//   1. the cost of TLS bootstrap's crypto: a CA plus a serving certificate (what a first start makes);
//   2. the webhook over real HTTPS on loopback, as the API server calls it (keep-alive connections):
//      latency per review (p50, p99, max) and reviews per second, for a Deployment's pod that gets
//      injected and for one that is left alone, sequentially and with 8 concurrent callers;
//   3. the pure mutator alone, per pod;
//   4. the patch's size.
//
// Env: N (reviews per case, default 2000).
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const N = Number(process.env.N ?? 2000);
const dist = (p) => import(join(root, 'dist', p));
const { makeTlsMaterial } = await dist('operator/tls/certificates.js');
const { servingNames } = await dist('operator/tls/tls-material.js');
const { startWebhookServer } = await dist('operator/webhook/webhook-server.js');
const { mutatePod } = await dist('operator/webhook/pod-mutator.js');
const fixture = (n) => readFileSync(join(root, 'test', 'fixtures', 'admission', `${n}.json`), 'utf8');

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
const ms = (x) => Number(x.toFixed(3));

// 1. crypto
const makes = [];
for (let i = 0; i < 10; i++) {
  const t = performance.now();
  makeTlsMaterial(servingNames('sonde', 'sonde-system'), Date.now());
  makes.push(performance.now() - t);
}
makes.sort((a, b) => a - b);

// 2. over HTTPS
const tls = makeTlsMaterial(servingNames('sonde', 'sonde-system'), Date.now());
const settings = { version: '0.1.0', agentImage: 'ghcr.io/example/sonde:0.1.0', agentUrl: 'wss://sonde.sonde-system.svc:7070/v1/agents', caCert: tls.ca, skipNamespaces: ['sonde-system', 'kube-system'] };
const server = await startWebhookServer({ port: 0, host: '127.0.0.1', tls, settings: () => settings, log: pino({ level: 'silent' }) });

function call(agent, body) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, method: 'POST', path: '/mutate-v1-pod', ca: tls.ca, servername: 'sonde.sonde-system.svc', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString()));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function run(name, concurrency) {
  const body = fixture(name);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  for (let i = 0; i < 50; i++) await call(agent, body); // warm-up: handshakes, JIT
  const lat = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < N) {
      const t = performance.now();
      const out = JSON.parse(await call(agent, body));
      lat.push(performance.now() - t);
      if (!out.response.allowed) throw new Error('not allowed');
    }
  }));
  const wall = performance.now() - started;
  agent.destroy();
  lat.sort((a, b) => a - b);
  return { case: name, concurrency, n: lat.length, p50Ms: ms(pct(lat, 50)), p99Ms: ms(pct(lat, 99)), maxMs: ms(lat.at(-1)), perSecond: Math.round((lat.length / wall) * 1000) };
}

const results = [];
for (const name of ['deployment-pod', 'not-annotated']) for (const c of [1, 8]) results.push(await run(name, c));
await server.close();

// 3. pure mutator
const review = JSON.parse(fixture('deployment-pod'));
const t0 = performance.now();
let patch;
for (let i = 0; i < N * 10; i++) patch = mutatePod(review.request.object, 'shop', settings).patch;
const mutateUs = ((performance.now() - t0) / (N * 10)) * 1000;

console.log(`node ${process.version}`);
console.log(`CA + serving certificate (RSA 2048): p50 ${ms(pct(makes, 50))} ms, max ${ms(makes.at(-1))} ms (10 runs)`);
for (const r of results) console.log(`${r.case.padEnd(15)} x${r.concurrency}: p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms  max ${r.maxMs} ms  ${r.perSecond}/s  (${r.n} reviews over HTTPS)`);
console.log(`mutatePod alone: ${mutateUs.toFixed(1)} µs per pod; patch ${patch.length} operations, ${JSON.stringify(patch).length} bytes of JSON (${Buffer.from(JSON.stringify(patch)).toString('base64').length} base64)`);
console.log(JSON.stringify({ bench: 'webhook', node: process.version, certMs: ms(pct(makes, 50)), results, mutateUs: Number(mutateUs.toFixed(2)) }));
