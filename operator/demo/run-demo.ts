import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { negativeValuesInline } from '../cli-args.js';
import { ConfigError, parsePort } from '../config.js';
import { parseDuration } from '../../src/session/duration.js';
import type { SessionView } from '../../src/session/types.js';
import { generateTraffic } from './traffic.js';

/**
 * `sonde demo`: a standalone operator in this process (temporary data directory), two instances of
 * the sample shop running the agent (`--import`), traffic on loopback, and — as soon as the agents'
 * catalogue shows `GET /api/orders/:id` — a session for that type. Prints the UI URL and runs until
 * Ctrl-C, or with `--once` until the session completes, or for `--duration`.
 */
export const DEMO_REQUEST = 'GET /api/orders/:id';
const INSTANCES = 2;

interface DemoFlags {
  port?: number;
  once: boolean;
  durationMs?: number;
  requests: number;
}

function parseDemoFlags(argv: string[]): DemoFlags {
  let v;
  try {
    v = parseArgs({
      args: negativeValuesInline(argv),
      strict: true,
      allowPositionals: false,
      options: { port: { type: 'string', short: 'p' }, once: { type: 'boolean' }, duration: { type: 'string' }, requests: { type: 'string' } },
    }).values;
  } catch (err) {
    throw new ConfigError([`${(err as Error).message} (see \`sonde --help\`)`]);
  }
  const flags: DemoFlags = { once: v.once ?? false, requests: 200 };
  if (v.port !== undefined) flags.port = parsePort(v.port, '--port');
  if (v.duration !== undefined) {
    try {
      flags.durationMs = parseDuration(v.duration);
    } catch (err) {
      throw new ConfigError([`--duration: ${(err as Error).message}`]);
    }
  }
  if (v.requests !== undefined) {
    const n = Number(v.requests);
    if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new ConfigError([`--requests must be a whole number from 1 to 10000, got ${JSON.stringify(v.requests)}`]);
    flags.requests = n;
  }
  return flags;
}

const here = dirname(fileURLToPath(import.meta.url));

/** The compiled agent's `--import` entry and the compiled sample app, beside this file in dist/. */
function demoPaths(): { agent: string; app: string } {
  const agent = join(here, '..', '..', 'agent', 'register.js');
  const app = join(here, 'sample-app.js');
  if (!existsSync(agent) || !existsSync(app)) throw new Error(`the demo runs from the build: ${existsSync(agent) ? app : agent} is missing (run \`npm run build\`)`);
  return { agent, app };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Starts one app instance and resolves with its port once it prints `listening PORT`. */
function startApp(paths: { agent: string; app: string }, index: number, agentUrl: string, env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', paths.agent, paths.app], {
    env: {
      ...env,
      PORT: '0',
      HOST: '127.0.0.1',
      SONDE_URL: agentUrl,
      POD_NAME: `demo-shop-${index}`,
      POD_NAMESPACE: 'default',
      POD_UID: '',
      SONDE_LABELS: 'app=demo,workload=shop',
      NODE_OPTIONS: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`sample app ${index} did not start within 20 s:\n${err}`)), 20_000);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      if (err.length < 20_000) err += chunk;
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sample app ${index} exited with ${code}:\n${err}`));
    });
  });
}

async function getJson<T>(url: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as T };
}

/** Runs the demo; resolves with the exit code. */
export async function runDemo(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const flags = parseDemoFlags(argv);
  const paths = demoPaths();
  const { startOperator, loadConfig } = await import('../main.js');
  const dataDir = await mkdtemp(join(tmpdir(), 'sonde-demo-'));
  const cleanups: (() => Promise<void> | void)[] = [() => rm(dataDir, { recursive: true, force: true })];
  const cleanup = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch {
        /* best effort: we are leaving */
      }
    }
  };
  const stopped = new AbortController();
  const onSignal = (): void => stopped.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  cleanups.push(() => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  });

  try {
    const base = { SONDE_LOG_LEVEL: env.SONDE_LOG_LEVEL ?? 'warn', SONDE_TOKEN: undefined, SONDE_SESSIONS: undefined, SONDE_DATA: undefined };
    const configFor = (port: number) => loadConfig(['--standalone', '--port', String(port), '--host', '127.0.0.1', '--data', dataDir], { ...env, ...base });
    let op;
    try {
      op = await startOperator(configFor(flags.port ?? 7070), { handleSignals: false });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || flags.port !== undefined) throw err;
      op = await startOperator(configFor(0), { handleSignals: false });
    }
    cleanups.push(() => op.close());
    const api = op.url;
    const agentUrl = op.url.replace(/^http/, 'ws') + '/v1/agents';
    process.stdout.write(`Sonde operator (standalone) on ${api}\n`);

    const apps = await Promise.all(Array.from({ length: INSTANCES }, (_, i) => startApp(paths, i, agentUrl, env)));
    for (const { child } of apps) {
      cleanups.push(
        () =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 3000).unref();
          }),
      );
    }
    process.stdout.write(`Sample shop: ${apps.map((a) => `http://127.0.0.1:${a.port}`).join(', ')} (agents: demo-shop-0..${INSTANCES - 1}, labels app=demo)\n`);

    const trafficStop = new AbortController();
    const traffic = generateTraffic({ targets: apps.map((a) => `http://127.0.0.1:${a.port}`), signal: trafficStop.signal, concurrency: 2, pauseMs: 5 });
    cleanups.push(async () => {
      trafficStop.abort();
      await traffic;
    });

    // Wait until the agents have connected and reported the type in their catalogue.
    const seenBy = Date.now() + 60_000;
    for (;;) {
      if (stopped.signal.aborted) return 130;
      const { body } = await getJson<{ items: { type: string; pods: number }[] }>(`${api}/api/v1/request-types`);
      if (body.items.some((t) => t.type === DEMO_REQUEST)) break;
      if (Date.now() > seenBy) throw new Error(`no agent reported ${DEMO_REQUEST} within 60 s: is the agent built (dist/agent)?`);
      await sleep(250);
    }

    const created = await getJson<SessionView & { error?: { message: string } }>(`${api}/api/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'demo-orders', spec: { selector: { matchLabels: { app: 'demo' } }, request: DEMO_REQUEST, requests: flags.requests, duration: '5m', sampleInterval: '10ms' } }),
    });
    if (created.status !== 201) throw new Error(`creating the demo session failed: ${created.body.error?.message ?? created.status}`);
    const id = created.body.id;
    process.stdout.write(`Profiling the next ${flags.requests} "${DEMO_REQUEST}" requests across ${INSTANCES} pods.\n\n  Open ${api}/#/sessions/${id}\n\n`);

    const until = flags.durationMs !== undefined ? Date.now() + flags.durationMs : Number.POSITIVE_INFINITY;
    let last = '';
    for (;;) {
      if (stopped.signal.aborted || Date.now() >= until) return 0;
      const { body: view } = await getJson<SessionView>(`${api}/api/v1/sessions/${id}`);
      const line = `${view.status.phase} ${view.status.progress}`;
      if (line !== last) {
        process.stdout.write(`  session ${line}\n`);
        last = line;
      }
      if (view.status.phase === 'Completed' || view.status.phase === 'Failed') {
        // The session is over: its result is printed once, then the demo only keeps the UI up.
        const top = view.status.hotspots.slice(0, 5).map((h) => `    ${h.selfPercent.toFixed(1).padStart(5)}%  ${h.frame}`);
        if (top.length) process.stdout.write(`  Top self time:\n${top.join('\n')}\n`);
        if (flags.once) return view.status.phase === 'Completed' ? 0 : 1;
        break;
      }
      await sleep(500);
    }
    const left = until - Date.now();
    process.stdout.write(
      Number.isFinite(left)
        ? `\n  The UI keeps running at ${api}/#/sessions/${id} for ${Math.max(1, Math.round(left / 1000))} s more (--duration) — Ctrl-C to stop sooner.\n`
        : `\n  The UI keeps running at ${api}/#/sessions/${id} — Ctrl-C to stop.\n`,
    );
    await new Promise<void>((resolve) => {
      const timer = Number.isFinite(left) ? setTimeout(resolve, Math.max(0, left)) : undefined;
      if (stopped.signal.aborted) resolve();
      stopped.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
    return 0;
  } finally {
    await cleanup();
  }
}
