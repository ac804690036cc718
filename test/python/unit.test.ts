import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateAgentMessage } from '../../src/protocol/validate-agent-message.js';
import { isLibraryFile } from '../../ui/flame/palette.js';
import { missingBuild, ROOT } from '../e2e/processes.js';
import { BUNDLE, PYTHON } from './harness.js';

const skip = missingBuild();

function python(code: string): string {
  const r = spawnSync(PYTHON, ['-c', code], { env: { PATH: process.env.PATH, SONDE_BUNDLE: BUNDLE, PYTHONDONTWRITEBYTECODE: '1' }, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

describe.skipIf(skip)('Python agent: unit tests (unittest, /usr/bin/python3)', () => {
  it('passes test/python/unit/test_agent_units.py', () => {
    const r = spawnSync(PYTHON, [join(ROOT, 'test/python/unit/test_agent_units.py'), '-v'], { env: { PATH: process.env.PATH, SONDE_BUNDLE: BUNDLE, PYTHONDONTWRITEBYTECODE: '1' }, encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toMatch(/\nOK/);
    expect(r.status).toBe(0);
  }, 130_000);

  it('passes test/python/unit/test_perf_paths.py (idle Django path, walks, intervals, start lines, app root)', () => {
    const r = spawnSync(PYTHON, [join(ROOT, 'test/python/unit/test_perf_paths.py'), '-v'], { env: { PATH: process.env.PATH, SONDE_BUNDLE: BUNDLE, PYTHONDONTWRITEBYTECODE: '1' }, encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toMatch(/\nOK/);
    expect(r.status).toBe(0);
  }, 130_000);

  it('sends hello.agent.root (SONDE_APP_ROOT, else the working directory) as the operator\'s validator reads it', () => {
    const hello = (root?: string): unknown =>
      JSON.parse(python(`
import sys, os, json
sys.path.insert(0, os.environ["SONDE_BUNDLE"])
from sonde_agent.agent import Agent
from sonde_agent.config import read_config
from sonde_agent.link import Link
env = {"SONDE_URL": "ws://127.0.0.1:1/v1/agents", "POD_NAME": "p", "POD_UID": "u"}
${root ? `env["SONDE_APP_ROOT"] = ${JSON.stringify(root)}` : ''}
sent = []
class Socket:
    def send(self, text): sent.append(text)
Link(Agent(), read_config(env))._send_hello(Socket())
print(sent[0])
`));
    const m = validateAgentMessage(hello('/srv/shop'));
    expect(m.type === 'hello' && m.agent.root).toBe('/srv/shop');
    const d = validateAgentMessage(hello());
    expect(d.type === 'hello' && d.agent.root).toMatch(/^\//);
  }, 60_000);

  it('writes requests messages the operator\'s validator accepts, tree and all', () => {
    const out = python(`
import sys, os, json, time
sys.path.insert(0, os.environ["SONDE_BUNDLE"])
from sonde_agent.agent import Agent
from sonde_agent.wsgi import SondeWsgiMiddleware
agent = Agent(); agent._link_started = True
def work():
    end = time.thread_time() + 0.01
    while time.thread_time() < end: pass
def view(environ, sr):
    work(); time.sleep(0.01); work()
    sr("201 Created", []); return [b"ok"]
app = SondeWsgiMiddleware(view, agent=agent)
s = agent.start_session("s", "POST /orders/:id", 2, time.time() * 1000 + 60000, 2)
for i in range(2):
    r = app({"REQUEST_METHOD": "POST", "PATH_INFO": "/orders/%d" % i}, lambda *a: None); list(r); r.close()
from sonde_agent.tree import record_json
print('{"type":"requests","session":"s","seq":1,"requests":[%s]}' % ",".join(record_json(r, t, agent.table) for r, t in s.pending))
`);
    const m = validateAgentMessage(JSON.parse(out));
    expect(m.type).toBe('requests');
    if (m.type !== 'requests') return;
    expect(m.requests).toHaveLength(2);
    // (Sonde 0.4) Start lines ride along as pairs; the operator's validator of this branch takes them.
    const raw = JSON.parse(out) as { requests: { tree: { starts?: number[]; frames: number[] } }[] };
    for (const r of raw.requests) {
      const starts = r.tree.starts ?? [];
      expect(starts.length).toBeGreaterThan(0);
      expect(starts.length % 2).toBe(0);
      for (let i = 0; i < starts.length; i += 2) {
        expect(starts[i]! * 5).toBeLessThan(r.tree.frames.length);
        expect(starts[i + 1]!).toBeGreaterThan(0);
      }
    }
    for (const r of m.requests) {
      expect(r.status).toBe(201);
      expect(r.type).toBe('POST /orders/:id');
      expect(r.cpuUs).toBeGreaterThan(10_000);
      expect(r.waitingUs).toBeGreaterThan(5_000);
    }
  }, 60_000);

  it('a bad variable stops only the agent: the injected process runs and says why on stderr', () => {
    const r = spawnSync(PYTHON, ['-c', 'import sonde_agent; print("app ran", sonde_agent.get_agent())'], {
      env: { PATH: process.env.PATH, PYTHONPATH: BUNDLE, SONDE_URL: 'http://not-a-websocket', PYTHONDONTWRITEBYTECODE: '1' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('app ran None\n');
    expect(r.stderr).toMatch(/sonde: the agent did not start: SONDE_URL must be a ws:\/\/ or wss:\/\/ URL/);
  });

  it('classes CPython\'s standard library and site-/dist-packages as libraries, the app as your code', () => {
    expect(isLibraryFile('/usr/lib/python3.11/json/encoder.py')).toBe(true);
    expect(isLibraryFile('/usr/local/lib/python3.9/threading.py')).toBe(true);
    expect(isLibraryFile('<frozen importlib._bootstrap>')).toBe(true);
    expect(isLibraryFile('/usr/lib/python3/dist-packages/django/core/handlers/base.py')).toBe(true);
    expect(isLibraryFile('/app/.venv/lib/python3.12/site-packages/flask/app.py')).toBe(true);
    expect(isLibraryFile('/app/shop/views.py')).toBe(false);
  });
});
