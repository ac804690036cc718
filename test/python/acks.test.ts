import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { eventually, missingBuild, Proc } from '../e2e/processes.js';
import { BUNDLE, PYTHON } from './harness.js';

const skip = missingBuild();

/**
 * The link's acknowledgements against a scripted operator on a real `ws` server: a batch the operator
 * never acknowledged comes again after a reconnect (with the session named in `hello.ended` once it is
 * over); an acknowledged one does not.
 */
const APP = `
import os, sys, time, threading
sys.path.insert(0, os.environ["SONDE_BUNDLE"])
import sonde_agent
agent = sonde_agent.start(patch=False)
from sonde_agent.wsgi import SondeWsgiMiddleware
def view(environ, sr):
    sr("200 OK", []); return [b"ok"]
app = SondeWsgiMiddleware(view)
def call(i):
    r = app({"REQUEST_METHOD": "GET", "PATH_INFO": "/a/%d" % i}, lambda *a: None); list(r); r.close()
call(0)  # the link dials on the first request
for line in sys.stdin:
    call(int(line))
`;

describe.skipIf(skip)('Python agent: acknowledgements', () => {
  let wss: WebSocketServer | undefined;
  let proc: Proc | undefined;
  afterEach(async () => {
    await proc?.stop('SIGKILL', 1000);
    wss?.close();
  });

  it('resends an unacknowledged batch after a reconnect, and not an acknowledged one', async () => {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/v1/agents' });
    await new Promise((r) => wss!.once('listening', r));
    const { port } = wss.address() as AddressInfo;
    const conns: { socket: WebSocket; messages: Record<string, unknown>[] }[] = [];
    wss.on('connection', (socket) => {
      const c = { socket, messages: [] as Record<string, unknown>[] };
      conns.push(c);
      socket.on('message', (d) => {
        const m = JSON.parse(d.toString()) as Record<string, unknown>;
        c.messages.push(m);
        if (m.type === 'hello') socket.send(JSON.stringify({ type: 'welcome', protocol: 1, agentId: `a${conns.length}`, heartbeatMs: 5000, acks: true }));
      });
    });
    const child = spawn(PYTHON, ['-c', APP], {
      env: { PATH: process.env.PATH, SONDE_BUNDLE: BUNDLE, SONDE_URL: `ws://127.0.0.1:${port}/v1/agents`, POD_NAME: 'acks', SONDE_LOG_LEVEL: 'info', PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    proc = new Proc(child, 'acks');
    const first = await eventually(() => (conns[0]?.messages.some((m) => m.type === 'hello') ? conns[0] : undefined), 20_000, 'hello');
    expect(first.messages[0]).toMatchObject({ type: 'hello', acks: true, agent: { runtime: 'python' } });
    first.socket.send(JSON.stringify({ type: 'start', session: 's1', request: 'GET /a/:id', maxRequests: 2, deadline: Date.now() + 60_000, sampleIntervalMs: 10 }));
    await new Promise((r) => setTimeout(r, 300));
    child.stdin.write('1\n');
    const batch1 = await eventually(() => first.messages.find((m) => m.type === 'requests' && m.seq === 1), 10_000, 'batch 1');
    first.socket.send(JSON.stringify({ type: 'ack', session: 's1', seq: 1 }));
    await new Promise((r) => setTimeout(r, 300));
    child.stdin.write('2\n');
    await eventually(() => first.messages.find((m) => m.type === 'requests' && m.seq === 2), 10_000, 'batch 2');
    await eventually(() => first.messages.find((m) => m.type === 'ended'), 10_000, 'ended');
    // Batch 2 is never acknowledged: the operator goes away.
    first.socket.terminate();
    const second = await eventually(() => (conns[1]?.messages.some((m) => m.type === 'requests') ? conns[1] : undefined), 30_000, 'the resend after reconnect');
    const hello = second.messages[0]!;
    expect(hello).toMatchObject({ type: 'hello', ended: ['s1'], sessions: [] });
    const resent = second.messages.filter((m) => m.type === 'requests');
    expect(resent.map((m) => m.seq)).toEqual([2]);
    expect(JSON.stringify(batch1)).not.toEqual(JSON.stringify(resent[0]));
  }, 60_000);
});
