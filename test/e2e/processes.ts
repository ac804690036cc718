import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SessionView } from '../../src/session/types.js';
import { eventually } from '../harness/eventually.js';

/**
 * Real processes for the end-to-end suites: the built operator (`dist/operator/cli.js`) and small apps
 * running the built agent through `--import`. Everything on loopback; every process is killed by the
 * test that started it (`stopAll`).
 */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'dist/operator/cli.js');
export const AGENT = join(ROOT, 'dist/agent/register.js');
export const APP = join(ROOT, 'test/e2e/fixtures/app.mjs');
export const WORK_TYPE = 'GET /work/:id';

/** Why the suite cannot run, or undefined when the build is there. */
export function missingBuild(): string | undefined {
  for (const f of [CLI, AGENT]) if (!existsSync(f)) return `${f} is missing: run \`npm run build\` first`;
  return undefined;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export { eventually };

/** A child process with its output kept (the tail), for assertions and for failure messages. */
export class Proc {
  out = '';
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcess, readonly name: string) {
    const keep = (chunk: Buffer): void => {
      this.out += chunk.toString('utf8');
      if (this.out.length > 400_000) this.out = this.out.slice(-200_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends a signal and waits for the exit (SIGKILL after `graceMs`). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<number | null> {
    if (!this.running) return this.child.exitCode;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /** Log lines the process printed as JSON (pino). */
  jsonLines(): Record<string, unknown>[] {
    return this.out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return {};
        }
      });
  }
}

const started: Proc[] = [];

/** Kills every process this module started and is still running. */
export async function stopAll(): Promise<void> {
  await Promise.all(started.splice(0).map((p) => p.stop('SIGKILL', 1000)));
}

export interface OperatorProcess {
  proc: Proc;
  url: string;
  port: number;
  agentUrl: string;
}

/** Starts `sonde operator` with the given flags on a free (or given) loopback port and waits for /healthz. */
export async function startOperator(args: string[], env: NodeJS.ProcessEnv = {}, port?: number): Promise<OperatorProcess> {
  const p = port ?? (await freePort());
  const child = spawn(process.execPath, [CLI, 'operator', '--port', String(p), '--host', '127.0.0.1', ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, SONDE_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = new Proc(child, 'operator');
  started.push(proc);
  const url = `http://127.0.0.1:${p}`;
  await eventually(async () => {
    if (!proc.running) throw new Error(`operator exited: ${proc.out.slice(-2000)}`);
    const res = await fetch(`${url}/healthz`);
    return res.ok || undefined;
  }, 30_000, 'operator /healthz');
  return { proc, url, port: p, agentUrl: `ws://127.0.0.1:${p}/v1/agents` };
}

export interface AppProcess {
  proc: Proc;
  port: number;
  pod: string;
}

/** Starts the fixture app with the agent, connected to `agentUrl` as pod `pod`. */
export async function startApp(options: { agentUrl: string; pod: string; namespace?: string; hot: 'alpha' | 'beta' | 'gamma'; labels?: string; token?: string; tokenFile?: string; uid?: string; work?: number; logLevel?: string }): Promise<AppProcess> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HOT: options.hot,
    SONDE_URL: options.agentUrl,
    POD_NAME: options.pod,
    POD_NAMESPACE: options.namespace ?? 'default',
    POD_UID: options.uid ?? '',
    SONDE_LABELS: options.labels ?? 'app=e2e',
    SONDE_LOG_LEVEL: options.logLevel ?? 'warn',
  };
  if (options.work !== undefined) env.WORK = String(options.work);
  if (options.token) env.SONDE_TOKEN = options.token;
  if (options.tokenFile) env.SONDE_TOKEN_FILE = options.tokenFile;
  const child = spawn(process.execPath, ['--import', AGENT, APP], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = new Proc(child, options.pod);
  started.push(proc);
  const port = await eventually(() => {
    if (!proc.running) throw new Error(`app ${options.pod} exited: ${proc.out.slice(-2000)}`);
    const m = /listening (\d+)/.exec(proc.out);
    return m ? Number(m[1]) : undefined;
  }, 20_000, `app ${options.pod} listening`);
  return { proc, port, pod: options.pod };
}

/**
 * One GET, body read, that `stop` aborts. undici's fetch leaves its 'abort' listener on the signal it
 * is given until garbage collection, so one shared signal passed to every fetch collects hundreds
 * (MaxListenersExceededWarning); here each request has its own controller, and the one listener on
 * `stop` is removed when the request ends.
 */
export async function fetchUntil(url: string, stop: AbortSignal): Promise<void> {
  const own = new AbortController();
  const onStop = (): void => own.abort();
  stop.addEventListener('abort', onStop, { once: true });
  try {
    if (stop.aborted) throw new Error('stopped');
    const res = await fetch(url, { signal: own.signal });
    await res.arrayBuffer();
  } finally {
    stop.removeEventListener('abort', onStop);
  }
}

/** Calls `GET /work/:id` on each app in a loop (two in flight per app) until the signal aborts. */
export function drive(apps: Pick<AppProcess, 'port'>[], signal: AbortSignal, pauseMs = 5): Promise<number> {
  let sent = 0;
  const loop = async (app: Pick<AppProcess, 'port'>): Promise<void> => {
    for (let i = 0; !signal.aborted; i++) {
      try {
        await fetchUntil(`http://127.0.0.1:${app.port}/work/${i}`, signal);
        sent++;
      } catch {
        if (signal.aborted) return;
        await sleep(100); // the app was killed or restarts: keep driving the others
      }
      if (i % 5 === 0) await fetchUntil(`http://127.0.0.1:${app.port}/other`, signal).catch(() => undefined);
      await sleep(pauseMs);
    }
  };
  return Promise.all(apps.flatMap((a) => [loop(a), loop(a)])).then(() => sent);
}

export async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  const text = await res.text();
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: ${res.status} ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

export async function createSession(base: string, body: unknown): Promise<SessionView> {
  return getJson<SessionView>(`${base}/api/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

export async function sessionView(base: string, id: string): Promise<SessionView> {
  return getJson<SessionView>(`${base}/api/v1/sessions/${encodeURIComponent(id)}`);
}

/** Waits until the operator lists `count` agents (optionally: with `type` in their catalogue). */
export async function waitForAgents(base: string, count: number, type?: string, timeoutMs = 30_000): Promise<void> {
  await eventually(async () => {
    if (type) {
      const types = await getJson<{ items: { type: string; pods: number }[] }>(`${base}/api/v1/request-types`);
      return (types.items.find((t) => t.type === type)?.pods ?? 0) >= count || undefined;
    }
    const agents = await getJson<{ items: unknown[] }>(`${base}/api/v1/agents`);
    return agents.items.length >= count || undefined;
  }, timeoutMs, `${count} agents${type ? ` reporting ${type}` : ''}`);
}

/**
 * The session's view once its stored requests have stopped growing (unchanged for `quietMs`) and the
 * status counts them all. Requests the agents took before the stop still land after Completed, each
 * agent's at its next collect (every 2.5 s at 5 ms sampling), so "Completed" alone is not "final".
 */
export async function settledSession(url: string, id: string, quietMs = 3000): Promise<SessionView> {
  return eventually(async () => {
    const count = async (): Promise<number> => (await getJson<{ items: unknown[] }>(`${url}/api/v1/sessions/${id}/requests`)).items.length;
    const n = await count();
    await sleep(quietMs);
    const v = await sessionView(url, id);
    return (await count()) === n && v.status.requestsProfiled === n ? v : undefined;
  }, 30_000, 'the stored requests to settle');
}
