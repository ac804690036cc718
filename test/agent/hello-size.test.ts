import { type Server, createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Agent, startAgent } from '../../agent/index.js';
import { PROTOCOL_LIMITS } from '../../src/protocol/messages.js';
import { sharedTokenAuthenticator } from '../../operator/standalone/shared-token.js';
import { AgentHub } from '../../operator/hub/agent-hub.js';
import { RecordingListener, silentLog } from '../operator/hub/hub-server.js';
// @ts-expect-error plain JS fixture shared with the child-process tests
import { plainApp } from './fixtures/apps.mjs';
import { get, until } from './helpers/load.js';
import { closeServer, listen } from './helpers/servers.js';

const FAST = { backoff: { baseMs: 50, capMs: 200 }, catalogueEveryMs: 60_000, progressEveryMs: 100, flushEveryMs: 20 };

/**
 * The operator's hub takes at most maxHelloBytes before welcome. An app with many request types must
 * still connect: its hello leaves the catalogue out and the catalogue follows as soon as it is welcomed
 * (not a catalogue interval later: the interval here is a minute).
 */
describe('agent hello size', () => {
  let app: Server;
  let appPort: number;
  let agent: Agent | undefined;

  beforeAll(async () => {
    app = plainApp({ alpha: 1000, beta: 1000 }) as Server;
    appPort = await listen(app);
  });
  afterAll(async () => {
    await agent?.close();
    await closeServer(app);
  });

  it('connects to the real hub with a catalogue larger than the hello limit, and sends it after welcome', async () => {
    // A port with nothing on it yet: the agent fills its catalogue while it cannot connect.
    const probe = createServer();
    const port = await listen(probe);
    await closeServer(probe);
    agent = startAgent({ url: `ws://127.0.0.1:${port}/v1/agents`, pod: { name: 'web-1', namespace: 'shop', uid: 'u-1' }, logLevel: 'silent', samplerWarmupMs: 0, link: FAST });
    // Distinct words (not ids) stay distinct types: ~280 bytes of catalogue each.
    const word = 'segment'.repeat(30);
    const types = 300;
    for (let i = 0; i < types; i++) await get(appPort, `/slow/${word}-n${i}x?ms=0`);
    await until(() => agent!.catalogue().length >= types, 10_000, 'catalogue');
    expect(JSON.stringify(agent.catalogue()).length).toBeGreaterThan(PROTOCOL_LIMITS.maxHelloBytes);

    const listener = new RecordingListener();
    const hub = new AgentHub({ authenticator: sharedTokenAuthenticator(undefined), log: silentLog });
    hub.setListener(listener);
    const server = createServer((_req, res) => res.writeHead(404).end());
    hub.attach(server);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      await until(() => listener.reports('catalogue').length > 0, 10_000, 'catalogue after welcome');
      expect(hub.counters().errorsByCode).toEqual({});
      expect(hub.counters().messagesByType.hello).toBe(1);
      const last = listener.reports('catalogue').at(-1)!;
      expect(last.type === 'catalogue' && last.entries.length).toBeGreaterThanOrEqual(types);
    } finally {
      await agent.close();
      agent = undefined;
      await hub.close();
      await closeServer(server);
    }
  });
});
