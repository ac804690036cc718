// The operator's side of the agent protocol, reduced to what the agent benchmarks need.
import { WebSocketServer } from 'ws';
import { sleep } from './stats.mjs';

/** The operator's side, reduced to what the benchmark needs: welcome, ping, start, stop, count, wait for an end. */
export async function startOperator() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/v1/agents' });
  await new Promise((r) => wss.once('listening', r));
  const agents = new Map(); // pod name -> { ws, records, ended }
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.type === 'hello') {
        const a = {
          ws,
          records: 0,
          samples: new Map(),
          ended: [],
          /** Starts a session on this agent. */
          startSession({ session, request, maxRequests, sampleIntervalMs, deadlineMs }) {
            ws.send(JSON.stringify({ type: 'start', session, request, maxRequests, deadline: Date.now() + deadlineMs, sampleIntervalMs }));
          },
          /** Stops a session on this agent; its `ended` follows. */
          stopSession(session) {
            ws.send(JSON.stringify({ type: 'stop', session, reason: 'stopped' }));
          },
          /** The session's `ended` message, polling every `pollMs` for at most `polls` times; undefined if none came. */
          async endedMessage(session, polls, pollMs) {
            for (let i = 0; i < polls && !a.ended.some((e) => e.session === session); i++) await sleep(pollMs);
            return a.ended.find((e) => e.session === session);
          },
        };
        agents.set(m.pod.name, a);
        ws.on('message', (d) => {
          const x = JSON.parse(d.toString());
          if (x.type === 'requests') {
            a.records += x.requests.length;
            // Own samples per session: how much of the requests' time the sampler saw (per 1,000 requests in the table).
            a.samples.set(x.session, (a.samples.get(x.session) ?? 0) + x.requests.reduce((n, q) => n + q.samples, 0));
          }
          if (x.type === 'ended') a.ended.push(x);
        });
        ws.send(JSON.stringify({ type: 'welcome', protocol: 1, agentId: m.pod.name, heartbeatMs: 10_000 }));
      }
    });
  });
  const ping = setInterval(() => wss.clients.forEach((c) => c.ping()), 10_000);
  return {
    url: `ws://127.0.0.1:${wss.address().port}/v1/agents`,
    agents,
    close: () => {
      clearInterval(ping);
      wss.clients.forEach((c) => c.terminate());
      wss.close();
    },
  };
}
