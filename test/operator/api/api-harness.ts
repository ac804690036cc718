import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig, startOperator, type RunningOperator } from '../../../operator/main.js';
import { FakeAgent, type FakeAgentOptions } from '../../harness/fake-agent.js';
import type { SessionView } from '../../../src/session/types.js';
import { eventually } from '../../harness/eventually.js';

/** Log lines an operator wrote, parsed, for tests that check what was logged. */
export class LogSink extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) this.lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  }
}

export interface Rig {
  op: RunningOperator;
  dir: string;
  uiDir: string;
  logs: LogSink;
  agentUrl: string;
  agents: FakeAgent[];
  connect(options: Omit<FakeAgentOptions, 'url'>): Promise<FakeAgent>;
  close(): Promise<void>;
}

/** A real standalone operator (the composition root) on a free loopback port, with a temp store and a small UI. */
export async function startRig(extraFlags: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'sonde-api-'));
  const uiDir = join(dir, 'ui');
  mkdirSync(uiDir);
  writeFileSync(join(uiDir, 'index.html'), '<!doctype html><title>Sonde</title><script src="app.js"></script>');
  writeFileSync(join(uiDir, 'app.js'), 'console.log("sonde")');
  const logs = new LogSink();
  const config = loadConfig(['--standalone', '--port', '0', '--data', join(dir, 'data'), '--ui-dir', uiDir, '--log-level', 'info', ...extraFlags], env, dir);
  const op = await startOperator(config, { logDestination: logs });
  const agentUrl = op.url.replace('http', 'ws') + '/v1/agents';
  const agents: FakeAgent[] = [];
  return {
    op,
    dir,
    uiDir,
    logs,
    agentUrl,
    agents,
    async connect(options) {
      const agent = await FakeAgent.connect({ url: agentUrl, ...options });
      agents.push(agent);
      return agent;
    },
    async close() {
      for (const a of agents) if (a.isOpen) a.kill();
      await op.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { eventually };

/** GET a session until its phase is one of `phases`. */
export async function waitForPhase(base: string, id: string, phases: SessionView['status']['phase'][], timeoutMs = 15_000): Promise<SessionView> {
  return eventually(async () => {
    const res = await fetch(`${base}/api/v1/sessions/${encodeURIComponent(id)}`);
    const view = (await res.json()) as SessionView;
    return phases.includes(view.status.phase) ? view : undefined;
  }, timeoutMs, `session ${id} to reach ${phases.join('/')}`);
}
