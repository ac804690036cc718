import { execFile } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { DIST_AGENT, ensureAgentBuilt, NODES } from './helpers/build.js';

const run = promisify(execFile);
const REGISTER = join(DIST_AGENT, 'register.js');
const LIB = pathToFileURL(join(DIST_AGENT, 'index.js')).href;

// An app that serves one request to itself and prints what the agent saw.
const APP = `
import http from 'node:http';
const { currentAgent } = await import(${JSON.stringify(LIB)});
const server = http.createServer((req, res) => res.end('ok'));
server.listen(0, '127.0.0.1', () => {
  http.get({ host: '127.0.0.1', port: server.address().port, path: '/things/42?x=1' }, (res) => {
    res.resume().on('end', () => {
      setTimeout(() => {
        const agent = currentAgent();
        console.log(JSON.stringify({ agent: Boolean(agent), pod: agent?.pod, types: agent?.catalogue().map((e) => e.type) }));
        server.close();
        if (!process.env.LEAVE_AGENT) void agent?.close();
      }, 20);
    });
  });
});
`;

describe('loading the agent into an unchanged app', () => {
  beforeAll(() => ensureAgentBuilt(), 120_000);

  it('starts from NODE_OPTIONS=--import with its identity from the environment', async () => {
    const { stdout } = await run(NODES['20']!, ['--input-type=module', '-e', APP], {
      env: { ...process.env, NODE_OPTIONS: `--import=${REGISTER}`, POD_NAME: 'shop-1', POD_NAMESPACE: 'shop', POD_UID: 'u1', SONDE_LOG_LEVEL: 'silent' },
    });
    expect(JSON.parse(stdout)).toEqual({ agent: true, pod: { name: 'shop-1', namespace: 'shop', uid: 'u1' }, types: ['GET /things/:id'] });
  });

  it('never keeps the process alive: an app that ends, ends, even mid-handshake with a silent operator', async () => {
    // Accepts the agent's TCP connection and never answers: the WebSocket handshake hangs (10 s timeout).
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    const t0 = Date.now();
    try {
      const { stdout } = await run(NODES['20']!, ['--import', REGISTER, '--input-type=module', '-e', APP], {
        env: { ...process.env, NODE_OPTIONS: '', SONDE_URL: `ws://127.0.0.1:${port}/v1/agents`, SONDE_LOG_LEVEL: 'silent', LEAVE_AGENT: '1' },
        timeout: 20_000,
      });
      expect(JSON.parse(stdout).types).toEqual(['GET /things/:id']);
      expect(Date.now() - t0).toBeLessThan(5_000);
    } finally {
      silent.close();
    }
  });

  it('starts on the main thread only: Workers, which run --import preloads too, get no agent', async () => {
    const app = `
      import { Worker, isMainThread, parentPort } from 'node:worker_threads';
      const { currentAgent } = await import(${JSON.stringify(LIB)});
      if (isMainThread) {
        const seen = await Promise.all([1, 2, 3].map(() => new Promise((resolve) => new Worker(new URL(import.meta.url)).once('message', resolve))));
        console.log(JSON.stringify({ main: Boolean(currentAgent()), workers: seen }));
        await currentAgent()?.close();
      } else {
        parentPort.postMessage(Boolean(currentAgent()));
      }
    `;
    const { writeFileSync, mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'sonde-register-'));
    try {
      writeFileSync(join(dir, 'pool.mjs'), app);
      const { stdout, stderr } = await run(NODES['20']!, [join(dir, 'pool.mjs')], { env: { ...process.env, NODE_OPTIONS: `--import=${REGISTER}`, SONDE_LOG_LEVEL: 'silent' } });
      expect(JSON.parse(stdout)).toEqual({ main: true, workers: [false, false, false] });
      expect(stderr).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaves the app running, and says why on stderr, when its configuration is bad', async () => {
    const { stdout, stderr } = await run(NODES['20']!, ['--import', REGISTER, '--input-type=module', '-e', APP], {
      env: { ...process.env, SONDE_LOG_LEVEL: 'loud', NODE_OPTIONS: '' },
    });
    expect(JSON.parse(stdout)).toEqual({ agent: false });
    expect(stderr).toMatch(/sonde agent: not started: SONDE_LOG_LEVEL must be one of/);
  });
});
