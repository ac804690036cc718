import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { missingBuild } from '../e2e/processes.js';
import { BUNDLE, PYTHON } from './harness.js';

const skip = missingBuild();

/** The vendored websocket-client, as the agent's link uses it (its own strict UTF-8 decoding, frames read
 * by \`next_frame\` after a select with the link's short timeout), against the \`ws\` server the operator runs. */
const CLIENT = `
import json, os, sys
sys.path.insert(0, os.environ["SONDE_BUNDLE"])
from sonde_agent.link import websocket, _close_reason, next_frame
ws = websocket.WebSocket(enable_multithread=True, skip_utf8_validation=True)
ws.connect(sys.argv[1], timeout=10, suppress_origin=True)
ws.settimeout(0.05)
ws.send("hello from python")
idle = 0
while True:
    op, frame = next_frame(ws, 0.05)
    if op is None:
        idle += 1
        assert idle < 200, "nothing came for 10 s"
        continue
    if op == websocket.ABNF.OPCODE_TEXT:
        try:
            print(json.dumps({"text": frame.data.decode("utf-8")}), flush=True)
        except UnicodeDecodeError as exc:
            print(json.dumps({"invalid": exc.reason}), flush=True)
    elif op == websocket.ABNF.OPCODE_PING:
        print(json.dumps({"ping": frame.data.decode()}), flush=True)
    elif op == websocket.ABNF.OPCODE_CLOSE:
        code, reason = _close_reason(frame.data)
        print(json.dumps({"close": code, "reason": reason}), flush=True)
        break
`;

describe.skipIf(skip)('Python agent: the vendored WebSocket client against ws', () => {
  let wss: WebSocketServer | undefined;
  afterEach(() => wss?.close());

  it('reassembles fragmented frames, answers pings, reads close codes; a text frame that is not UTF-8 fails to decode', async () => {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => wss!.once('listening', r));
    const { port } = wss.address() as AddressInfo;
    const pongs: string[] = [];
    const got: string[] = [];
    wss.on('connection', (socket) => {
      socket.on('pong', (d) => {
        pongs.push(d.toString());
        socket.close(4008, 'replaced by a newer connection');
      });
      socket.on('message', (d) => {
        got.push(d.toString());
        // One message in three fragments, then a ping.
        socket.send('{"type":', { fin: false });
        socket.send('"welcome",', { fin: false });
        socket.send('"x":1}', { fin: true });
        socket.send('é'.repeat(70_000)); // a 140 KB frame: the 64-bit length form
        socket.send(Buffer.from([0x7b, 0xff, 0x7d]), { binary: false }); // a text frame that is not UTF-8
        socket.ping('are you there');
      });
    });
    const child = spawn(PYTHON, ['-c', CLIENT, `ws://127.0.0.1:${port}/v1/agents`], { env: { PATH: process.env.PATH, SONDE_BUNDLE: BUNDLE }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(err).toBe('');
    expect(code).toBe(0);
    const events = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(got).toEqual(['hello from python']);
    expect(events[0]).toEqual({ text: '{"type":"welcome","x":1}' });
    expect((events[1]!.text as string).length).toBe(70_000);
    expect(events[2]).toEqual({ invalid: 'invalid start byte' });
    expect(events[3]).toEqual({ ping: 'are you there' });
    expect(pongs).toEqual(['are you there']);
    expect(events[4]).toEqual({ close: 4008, reason: 'replaced by a newer connection' });
  }, 30_000);
});
