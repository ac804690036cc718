// The benchmark app with the agent under the harness's control, for same-process paired rounds:
// {cmd: 'agent', on} starts or closes the agent; {cmd: 'session', intervalMs} starts a local session
// on the app's request type, {cmd: 'session', intervalMs: 0} stops it.
import { pathToFileURL } from 'node:url';

const lib = await import(pathToFileURL(process.env.SONDE_AGENT_LIB).href);
let agent;
let session;
process.on('message', (m) => {
  if (m?.cmd === 'agent') {
    if (m.on && !agent) agent = lib.startAgent({ logLevel: 'warn' });
    if (!m.on && agent) {
      void agent.close();
      agent = undefined;
    }
  } else if (m?.cmd === 'session') {
    session?.stop();
    session = undefined;
    if (m.intervalMs > 0) session = agent.startSession({ request: 'GET /api/orders/:id', requests: 10_000, durationMs: 600_000, sampleIntervalMs: m.intervalMs });
  }
});
await import('./server.mjs');
