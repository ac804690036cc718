import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

/**
 * One benchmark process of simulated agents: light WebSocket clients that speak just enough of the
 * protocol (hello, pong, record when `start` arrives, report one request on demand). The parent drives
 * it over IPC. Raw `ws`, one small record per agent, so thousands fit in one process.
 */
interface Agent {
  ws: WebSocket;
  name: string;
  started: Map<string, number>;
}

type Command =
  | { cmd: 'connect'; url: string; count: number; offset: number; namespace: string; concurrency: number }
  | { cmd: 'times'; session: string }
  | { cmd: 'report'; session: string; count: number; treesFile: string }
  | { cmd: 'close' };

const agents: Agent[] = [];
const send = (m: unknown): void => void process.send!(m);

function connectOne(url: string, name: string, namespace: string): Promise<Agent | undefined> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const agent: Agent = { ws, name, started: new Map() };
    let settled = false;
    const done = (a: Agent | undefined): void => {
      if (!settled) {
        settled = true;
        resolve(a);
      }
    };
    ws.on('error', () => done(undefined));
    ws.on('close', () => done(undefined));
    ws.on('open', () => {
      ws.send(
        JSON.stringify({
          type: 'hello',
          protocol: 1,
          pod: { name, namespace, uid: '' },
          labels: { app: 'bench', shard: String(agents.length % 10) },
          agent: { runtime: 'node', runtimeVersion: process.version, agentVersion: 'bench', pid: process.pid },
          catalogue: [{ type: 'GET /bench', count: 1, errors: 0, p50Ms: 1, p90Ms: 2, p99Ms: 3 }],
          sessions: [],
        }),
      );
    });
    ws.on('message', (data) => {
      const now = Date.now();
      const text = String(data);
      if (text.startsWith('{"type":"welcome"')) return done(agent);
      if (text.startsWith('{"type":"start"')) {
        const m = JSON.parse(text) as { session: string };
        if (!agent.started.has(m.session)) agent.started.set(m.session, now);
      }
    });
  });
}

async function connect(c: Extract<Command, { cmd: 'connect' }>): Promise<void> {
  const t0 = Date.now();
  let next = 0;
  let failed = 0;
  const lane = async (): Promise<void> => {
    while (next < c.count) {
      const i = next++;
      const a = await connectOne(c.url, `bench-${c.offset + i}`, c.namespace);
      if (a) agents.push(a);
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: c.concurrency }, lane));
  send({ event: 'connected', ok: agents.length, failed, ms: Date.now() - t0 });
}

function report(c: Extract<Command, { cmd: 'report' }>): void {
  const trees = JSON.parse(readFileSync(c.treesFile, 'utf8')) as unknown[];
  let sent = 0;
  for (let i = 0; i < c.count && i < agents.length; i++) {
    const a = agents[i]!;
    const tree = trees[i % trees.length] as { nodes: number[] };
    let samples = 0;
    for (let k = 2; k < tree.nodes.length; k += 5) samples += tree.nodes[k]!;
    a.ws.send(
      JSON.stringify({
        type: 'requests',
        session: c.session,
        seq: 1,
        requests: [{ id: `${a.name}-1`, type: 'GET /bench', startedAt: Date.now() - 20, durationMs: 10 + (i % 50), outcome: 'ok', status: 200, samples, cpuUs: 0, waitingUs: 0, blockedUs: 0, tree }],
      }),
    );
    sent++;
  }
  send({ event: 'reported', sent });
}

process.on('message', (m: Command) => {
  switch (m.cmd) {
    case 'connect':
      void connect(m);
      break;
    case 'times': {
      const times: number[] = [];
      let missing = 0;
      for (const a of agents) {
        const t = a.started.get(m.session);
        if (t === undefined) missing++;
        else times.push(t);
      }
      send({ event: 'times', times, missing, open: agents.filter((a) => a.ws.readyState === WebSocket.OPEN).length });
      break;
    }
    case 'report':
      report(m);
      break;
    case 'close':
      for (const a of agents) a.ws.terminate();
      setTimeout(() => process.exit(0), 100);
      break;
  }
});
send({ event: 'ready' });
