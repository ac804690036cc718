import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { DIST_AGENT, ROOT } from './build.js';

export interface ChildServer {
  port: number;
  node: string;
  request<T>(message: object, replyType: string): Promise<T>;
  close(): Promise<void>;
}

/** Starts a sample app in its own process on `nodeBin`, the agent loaded by `--import`. */
export async function startChildServer(nodeBin: string, app: string, env: Record<string, string> = {}, nodeFlags: string[] = []): Promise<ChildServer> {
  const child: ChildProcess = fork(join(ROOT, 'test/agent/fixtures/attribution-child.mjs'), [app, join(DIST_AGENT, 'index.js')], {
    execPath: nodeBin,
    execArgv: [...nodeFlags, '--import', join(DIST_AGENT, 'register.js')],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, SONDE_LOG_LEVEL: 'warn', ...env },
  });
  const next = <T>(type: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const onMessage = (m: { type: string }): void => {
        if (m.type !== type) return;
        cleanup();
        resolve(m as T);
      };
      const onExit = (code: number | null): void => {
        cleanup();
        reject(new Error(`server process exited (${code}) before '${type}'`));
      };
      const cleanup = (): void => {
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.on('exit', onExit);
    });
  const ready = await next<{ port: number; node: string }>('ready');
  return {
    port: ready.port,
    node: ready.node,
    request: <T>(message: object, replyType: string) => {
      const reply = next<T>(replyType);
      child.send(message);
      return reply;
    },
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.send({ cmd: 'exit' });
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}
