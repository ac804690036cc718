#!/usr/bin/env node
// Flood benchmark (`npm run bench:operator:flood`; expects a build in dist/, or DIST=/path/to/dist).
//
// A standalone operator runs in this process (so its RSS and heap are this process's); a child opens
// raw sockets to /v1/agents that never say hello, in three waves: idle sockets, sockets that send a
// 60 KiB frame and never finish it, and sockets that announce an 8 MiB frame. For each wave: how many
// upgrades were accepted or refused, how many the operator closed, and the operator's RSS and heap
// before, at the peak during, and after the sockets are gone.
//
// Env: SOCKETS (default 2000 per wave), DIST (default ./dist).
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = resolve(process.env.DIST ?? join(here, '..', '..', '..', 'dist'));
const SOCKETS = Number(process.env.SOCKETS ?? 2000);
const { loadConfig, startOperator } = await import(pathToFileURL(join(dist, 'operator', 'main.js')).href);

const mib = (b) => Math.round((b / 1048576) * 10) / 10;
const gc = () => globalThis.gc?.();
const mem = () => {
  const m = process.memoryUsage();
  return { rssMiB: mib(m.rss), heapMiB: mib(m.heapUsed), externalMiB: mib(m.external + m.arrayBuffers) };
};

const dir = mkdtempSync(join(tmpdir(), 'sonde-flood-'));
const config = loadConfig(['--standalone', '--port', '0', '--data', join(dir, 'data'), '--log-level', 'silent'], {}, dir);
const op = await startOperator(config);
const port = op.port;

async function wave(mode) {
  gc();
  const before = mem();
  let peak = before;
  const sample = setInterval(() => {
    const m = mem();
    if (m.rssMiB > peak.rssMiB) peak = m;
  }, 50);
  const child = fork(join(here, 'flood-client.mjs'), [String(port), String(SOCKETS), mode], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const opened = await new Promise((r) => child.on('message', (m) => m.type === 'opened' && r(m.counts)));
  await new Promise((r) => setTimeout(r, 1500)); // let the operator read what was sent
  const during = mem();
  if (during.rssMiB > peak.rssMiB) peak = during;
  const counts = await new Promise((r) => {
    child.on('message', (m) => m.type === 'report' && r(m.counts));
    child.send('report');
  });
  child.send('close');
  await new Promise((r) => child.on('exit', r));
  clearInterval(sample);
  await new Promise((r) => setTimeout(r, 500));
  gc();
  const after = mem();
  let metrics = '';
  try {
    metrics = await (await fetch(`${op.url}/metrics`)).text();
  } catch {}
  const errors = Object.fromEntries([...metrics.matchAll(/^sonde_agent_errors_total\{code="(\w+)"\} (\d+)/gm)].map((m) => [m[1], Number(m[2])]));
  return { mode, sockets: SOCKETS, opened, counts, before, peak, after, errorsSoFar: errors };
}

const results = [];
for (const mode of ['idle', 'partial', 'oversized']) results.push(await wave(mode));
await op.close();
rmSync(dir, { recursive: true, force: true });

console.log(`operator flood, ${SOCKETS} sockets per wave, dist ${dist}, node ${process.version}`);
console.log('wave       upgraded  503  closed-by-op  rss before/peak/after MiB   heap before/peak/after MiB');
for (const r of results) {
  console.log(
    `${r.mode.padEnd(10)} ${String(r.counts.upgraded).padStart(8)} ${String(r.counts.refused503).padStart(4)} ${String(r.counts.closedByServer).padStart(13)}  ` +
      `${r.before.rssMiB}/${r.peak.rssMiB}/${r.after.rssMiB}`.padEnd(28) +
      `${r.before.heapMiB}/${r.peak.heapMiB}/${r.after.heapMiB}`,
  );
}
console.log(JSON.stringify({ bench: 'operator-flood', sockets: SOCKETS, results }));
process.exit(0);
