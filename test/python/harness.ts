import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CallTree } from '../../src/model/call-tree.js';
import { deserializeTree } from '../../src/model/serialized.js';
import { eventually, fetchUntil, getJson, Proc, ROOT, sleep } from '../e2e/processes.js';

/**
 * Real Python servers for the Python agent's tests: Debian's /usr/bin/python3 (the `python3` on PATH is
 * another interpreter without Debian's packages), the agent taken from the built bundle copied into a
 * scratch directory that stands for the injected volume, started exactly as the webhook's environment
 * starts it (PYTHONPATH=<volume>/python, SONDE_URL, POD_*).
 */
export const PYTHON = '/usr/bin/python3';
export const BUNDLE = join(ROOT, 'dist/agent-bundle/python');
export const FIXTURES = join(ROOT, 'test/python/fixtures');

/**
 * A scratch directory standing for the injected volume (`/sonde/agent`), filled as the init container
 * fills it: by `sonde agent-bundle --runtime python DIR` (the agent lands in DIR/python, what PYTHONPATH
 * names), or, in a build without that command, by copying the bundle to the same place.
 */
export function scratchVolume(): { dir: string; pythonPath: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'sonde-py-volume-'));
  const agentDir = join(dir, 'agent');
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/operator/cli.js'), 'agent-bundle', '--runtime', 'python', agentDir], { encoding: 'utf8' });
  if (r.status !== 0 || !existsSync(join(agentDir, 'python', 'sitecustomize.py'))) cpSync(BUNDLE, join(agentDir, 'python'), { recursive: true });
  return { dir, pythonPath: join(agentDir, 'python'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

const started: Proc[] = [];

export interface PyApp {
  proc: Proc;
  port: number;
}

/** Starts `argv` (after /usr/bin/python3) in the fixtures directory with the injected environment; waits for `listening PORT`. */
export async function startPythonApp(options: { argv: string[]; agentUrl: string; pythonPath: string; pod: string; labels?: string; env?: Record<string, string>; portFrom?: RegExp }): Promise<PyApp> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PYTHONPATH: options.pythonPath,
    PYTHONDONTWRITEBYTECODE: '1',
    SONDE_URL: options.agentUrl,
    POD_NAME: options.pod,
    POD_NAMESPACE: 'default',
    POD_UID: '',
    SONDE_LABELS: options.labels ?? 'app=py',
    SONDE_LOG_LEVEL: 'info',
    ...options.env,
  };
  const child = spawn(PYTHON, options.argv[0] === 'gunicorn' ? ['-m', 'gunicorn', ...options.argv.slice(1)] : options.argv, {
    cwd: FIXTURES,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = new Proc(child, options.pod);
  started.push(proc);
  const re = options.portFrom ?? /listening (\d+)/;
  const port = await eventually(() => {
    if (!proc.running) throw new Error(`${options.pod} exited: ${proc.out.slice(-3000)}`);
    const m = re.exec(proc.out);
    return m ? Number(m[1]) : undefined;
  }, 30_000, `${options.pod} listening`);
  return { proc, port };
}

export async function stopPythonApps(): Promise<void> {
  await Promise.all(started.splice(0).map((p) => p.stop('SIGTERM', 3000)));
}

/** Calls each path in turn on `port`, `concurrency` loops at once, until the signal aborts. */
export function load(port: number, paths: string[], signal: AbortSignal, concurrency = 2, pauseMs = 2): Promise<number> {
  let sent = 0;
  const loop = async (k: number): Promise<void> => {
    for (let i = k; !signal.aborted; i++) {
      const path = paths[i % paths.length]!.replace('{i}', String(i));
      try {
        // Not `{ signal }`: a shared signal collects a listener per fetch (see fetchUntil).
        await fetchUntil(`http://127.0.0.1:${port}${path}`, signal);
        sent++;
      } catch {
        if (signal.aborted) return;
        await sleep(50);
      }
      if (pauseMs > 0) await sleep(pauseMs);
    }
  };
  return Promise.all(Array.from({ length: concurrency }, (_, k) => loop(k))).then(() => sent);
}

/** The session's merged tree as the operator serves it. */
export async function sessionTree(base: string, id: string): Promise<CallTree> {
  const body = await getJson<{ tree: unknown }>(`${base}/api/v1/sessions/${encodeURIComponent(id)}/tree`);
  return deserializeTree(body.tree);
}

/** Each node's stack of frame names from the root. */
export function stacks(tree: CallTree): { names: string[]; kinds: string[]; samples: number; wallUs: number; cpuUs: number }[] {
  const out = [];
  const names: string[][] = [[]];
  const kinds: string[][] = [[]];
  for (let i = 1; i < tree.size; i++) {
    const f = tree.frames[tree.frameIds[i]!]!;
    const p = tree.parents[i]!;
    names[i] = [...names[p]!, f.name];
    kinds[i] = [...kinds[p]!, f.kind];
    out.push({ names: names[i]!, kinds: kinds[i]!, samples: tree.self.samples[i]!, wallUs: tree.self.wallUs[i]!, cpuUs: tree.self.cpuUs[i]! });
  }
  return out;
}

/**
 * Attribution figures of a tree. `views` are the fixture's view functions (one per request type). Of the
 * samples whose stack passes through one of them, `ownShare` is the share under `own`, `foreignShare` the
 * share in `foreignHot` (the other type's hot function). `frameworkShare` is the share of all code samples
 * outside every view: the framework's own work for the request (routing, serialising, sending), which is
 * the request's but no view's.
 */
export function attribution(tree: CallTree, own: string, foreignHot: string, views: string[]): { code: number; inViews: number; ownShare: number; foreignShare: number; frameworkShare: number } {
  let code = 0;
  let inViews = 0;
  let mine = 0;
  let theirs = 0;
  for (const s of stacks(tree)) {
    if (s.samples === 0 || !s.kinds.includes('code')) continue;
    code += s.samples;
    if (!s.names.some((n) => views.includes(n))) continue;
    inViews += s.samples;
    if (s.names.includes(own)) mine += s.samples;
    if (s.names.includes(foreignHot)) theirs += s.samples;
  }
  return { code, inViews, ownShare: inViews ? mine / inViews : 0, foreignShare: inViews ? theirs / inViews : 0, frameworkShare: code ? (code - inViews) / code : 0 };
}
