/**
 * Quick check of the hub at the scale; not a test (the benchmark proper is `npm run
 * bench:operator`). One operator data path (hub + engine + SQLite store) in this process, N fake agents
 * in a child process (Node 24, type-stripped fake-agent.ts). Prints operator RSS per agent and, for a few
 * sessions selecting all agents or a tenth of them, the time from apply to each agent holding `start`.
 * Bundle next to this file (paths are relative to it):
 *   npx esbuild test/operator/hub/hub-scale.ts --bundle --platform=node --format=esm --packages=external \
 *     --outfile=test/operator/hub/.hub-scale.mjs && node --expose-gc test/operator/hub/.hub-scale.mjs 10000
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { Engine } from '../../../operator/engine/engine.js';
import { AgentHub } from '../../../operator/hub/agent-hub.js';
import { HelloLabelDirectory } from '../../../operator/hub/hello-label-directory.js';
import { SqliteStore } from '../../../operator/store/sqlite-store.js';

const count = Number(process.argv[2] ?? 10_000);
const log = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'sonde-scale-'));
const mib = (b: number): string => (b / 1048576).toFixed(0);
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.max(0, Math.ceil(p * xs.length) - 1)]!;

const store = new SqliteStore({ file: join(dir, 'sonde.db'), log, retention: { intervalMs: 0 } });
const hub = new AgentHub({ authenticator: { authenticate: async (_t, pod) => ({ ok: true, pod }) }, log });
const engine = new Engine({ hub, store, podDirectory: new HelloLabelDirectory(hub), log, baseURL: 'http://x' });
const server = createServer();
hub.attach(server);
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
gc();
const rss0 = process.memoryUsage().rss;
const node24 = new URL('../../../node_modules/node24/bin/node', import.meta.url).pathname;
const clients = spawn(node24, [new URL('./scale-clients.ts', import.meta.url).pathname, `ws://127.0.0.1:${(server.address() as AddressInfo).port}/v1/agents`, String(count)], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines = createInterface({ input: clients.stdout! });
const waiters: ((m: { event: string; session?: string; at?: number[] }) => boolean)[] = [];
lines.on('line', (line) => {
  const m = JSON.parse(line) as { event: string };
  for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i]!(m)) waiters.splice(i, 1);
});
const next = <T>(pred: (m: { event: string; session?: string; at?: number[] }) => T | undefined): Promise<T> =>
  new Promise((resolve) => waiters.push((m) => {
    const v = pred(m);
    if (v !== undefined) resolve(v);
    return v !== undefined;
  }));

const t0 = Date.now();
await next((m) => (m.event === 'connected' ? true : undefined));
while (hub.size < count) await new Promise((r) => setTimeout(r, 50));
console.log(`${count} agents connected in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
gc();
await new Promise((r) => setTimeout(r, 500));
gc();
const rss1 = process.memoryUsage().rss;
console.log(`operator RSS: ${mib(rss0)} MiB before, ${mib(rss1)} MiB with ${count} agents; ${((rss1 - rss0) / count / 1024).toFixed(1)} KiB per agent`);

for (const [i, selector, n] of [
  [1, {}, count],
  [2, { matchLabels: { shard: '3' } }, count / 10],
  [3, {}, count],
  [4, {}, count],
  [5, {}, count],
] as const) {
  const id = `s${i}`;
  clients.stdin!.write(`expect ${id} ${n}\n`);
  await new Promise((r) => setTimeout(r, 50));
  const got = next((m) => (m.event === 'starts' && m.session === id ? m.at! : undefined));
  const applied = Date.now();
  engine.apply({ id, name: id, namespace: 'bench', source: 'api', createdAt: new Date().toISOString(), generation: 1, spec: { selector, request: 'GET /x', requests: 100, duration: '5m' } });
  const applyMs = Date.now() - applied;
  const lat = (await got).map((at) => at - applied);
  console.log(`session ${id}: ${n} agents; apply() ${applyMs} ms; start held after p50 ${pct(lat, 0.5)} ms, p99 ${pct(lat, 0.99)} ms, max ${Math.max(...lat)} ms`);
  engine.remove(id);
}
console.log(`operator RSS after sessions: ${mib(process.memoryUsage().rss)} MiB`);
clients.stdin!.write('exit\n');
engine.close();
await hub.close();
server.close();
store.close();
rmSync(dir, { recursive: true, force: true });
