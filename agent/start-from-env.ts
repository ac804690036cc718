import { isMainThread } from 'node:worker_threads';
import { startAgent } from './agent.js';
import { readAgentConfig } from './config.js';

/** What `startFromEnvironment` did, for the entry that called it (and its tests). */
export type StartOutcome = 'started' | 'not-main-thread' | 'already-started' | 'failed';

/**
 * Process-wide (a registry symbol on globalThis): the bundle's copy of the agent and the one in dist/
 * are separate module graphs, and an app given both `--require …/preload.cjs` and `--import …` must
 * still start one agent, with one connection.
 */
const STARTED = Symbol.for('sonde.agent.startedFromEnvironment');

/**
 * Starts the agent from the environment, as both entries do (`register.ts` for `--import`, the bundle's
 * `preload.cjs` for `--require`). Node runs preloads in every Worker thread too: only the main thread
 * starts an agent, so an app with a worker pool opens exactly one connection; a Worker returns quietly
 * (one line per Worker would be noise). Whatever goes wrong, the app starts as if the agent were not
 * there: the reason goes to stderr, one line, never into the app.
 */
export function startFromEnvironment(env: Record<string, string | undefined>, mainThread: boolean = isMainThread): StartOutcome {
  if (!mainThread) return 'not-main-thread';
  const global = globalThis as Record<symbol, unknown>;
  if (global[STARTED]) return 'already-started';
  global[STARTED] = true;
  try {
    // Dial once the process serves: of the Node processes NODE_OPTIONS reaches, only the app does.
    startAgent({ ...readAgentConfig(env), connectWhen: 'serving' });
    return 'started';
  } catch (err) {
    try {
      process.stderr.write(`sonde agent: not started: ${(err as Error)?.message ?? String(err)}\n`);
    } catch {
      // stderr closed: nothing left to tell.
    }
    return 'failed';
  }
}
