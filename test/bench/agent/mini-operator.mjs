// The operator's side of the agent protocol, reduced to what the agent benchmarks need.
import { WebSocketServer } from 'ws';

/** The operator's side, reduced to what the benchmark needs: welcome, ping, start, stop, count. */
export async function startOperator() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/v1/agents' });
  await new Promise((r) => wss.once('listening', r));
  const agents = new Map(); // pod name -> { ws, records, ended }
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.type === 'hello') {
        const a = { ws, records: 0, ended: [] };
        agents.set(m.pod.name, a);
        ws.on('message', (d) => {
          const x = JSON.parse(d.toString());
          if (x.type === 'requests') a.records += x.requests.length;
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
