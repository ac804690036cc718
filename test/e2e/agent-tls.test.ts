import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, type TestPki } from '../harness/test-ca.js';
import { APP, AGENT, CLI, eventually, freePort, getJson, missingBuild, type OperatorProcess, Proc, ROOT, sleep, startOperator, stopAll } from './processes.js';

const missing = missingBuild();
const LIB = pathToFileURL(join(ROOT, 'dist/agent/index.js')).href;
let scratch = '';
let pki: TestPki;
let op: OperatorProcess;
const procs: Proc[] = [];
const closers: (() => void)[] = [];

/** A TLS front for the operator on loopback (as the operator's own wss:// port will be), counting handshakes. */
async function tlsFront(target: number, cert: TestPki): Promise<{ port: number; secured: () => number; failed: () => string[] }> {
  let secured = 0;
  const failed: string[] = [];
  const server = tls.createServer({ cert: cert.cert, key: cert.key }, (socket) => {
    secured++;
    const upstream = net.connect(target, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    const end = (): void => {
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', end);
    upstream.on('error', end);
  });
  server.on('tlsClientError', (err) => failed.push(err.message));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => server.close());
  return { port: (server.address() as AddressInfo).port, secured: () => secured, failed: () => failed };
}

/** Starts the fixture app with the agent (--import) and the given environment. */
function startAgentApp(pod: string, env: NodeJS.ProcessEnv): Proc {
  const child = spawn(process.execPath, ['--import', AGENT, APP], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, POD_NAME: pod, POD_NAMESPACE: 'default', SONDE_LABELS: 'app=tls', SONDE_LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = new Proc(child, pod);
  procs.push(proc);
  return proc;
}

async function agentPods(): Promise<string[]> {
  return (await getJson<{ items: { pod: { name: string } }[] }>(`${op.url}/api/v1/agents`)).items.map((a) => a.pod.name).sort();
}

beforeAll(async () => {
  if (missing) return;
  scratch = mkdtempSync(join(tmpdir(), 'sonde-agent-tls-'));
  pki = makeTestPki();
  op = await startOperator(['--standalone', '--data', join(scratch, 'data')]);
}, 60_000);

afterAll(async () => {
  await Promise.all(procs.splice(0).map((p) => p.stop('SIGKILL', 1000)));
  for (const c of closers) c();
  await stopAll();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe.skipIf(missing)('the agent on wss:// with the operator\'s CA', () => {
  it('reaches a wss:// server whose certificate the CA in SONDE_CA_CERT (or SONDE_CA_FILE) signed', async () => {
    const front = await tlsFront(op.port, pki);
    const caFile = join(scratch, 'ca.crt');
    writeFileSync(caFile, pki.caCert);
    startAgentApp('tls-cert', { SONDE_URL: `wss://127.0.0.1:${front.port}/v1/agents`, SONDE_CA_CERT: pki.caCert });
    startAgentApp('tls-file', { SONDE_URL: `wss://localhost:${front.port}/v1/agents`, SONDE_CA_FILE: caFile });
    await eventually(async () => ((await agentPods()).join() === 'tls-cert,tls-file' ? true : undefined), 20_000, 'both agents connected over TLS');
    expect(front.secured()).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('does not connect without the CA, nor with a CA that did not sign the server', async () => {
    const front = await tlsFront(op.port, pki);
    const stranger = makeTestPki('another-ca');
    const none = startAgentApp('tls-none', { SONDE_URL: `wss://127.0.0.1:${front.port}/v1/agents` });
    const wrong = startAgentApp('tls-wrong', { SONDE_URL: `wss://127.0.0.1:${front.port}/v1/agents`, SONDE_CA_CERT: stranger.caCert });
    await eventually(() => (front.failed().length >= 2 ? true : undefined), 20_000, 'two refused handshakes');
    await sleep(1500);
    expect(front.secured()).toBe(0);
    expect(await agentPods()).not.toEqual(expect.arrayContaining(['tls-none']));
    expect(await agentPods()).not.toEqual(expect.arrayContaining(['tls-wrong']));
    for (const p of [none, wrong]) {
      expect(p.running).toBe(true);
      expect(p.out).toMatch(/self[- ]signed certificate|unable to (verify|get local issuer)/);
    }
  }, 60_000);
});

describe.skipIf(missing)("the operator's own wss:// port (--tls-cert-dir)", () => {
  /** GET over HTTPS trusting only `ca`. */
  function httpsJson<T>(url: string, ca: string): Promise<T> {
    return new Promise((resolve, reject) => {
      https
        .get(url, { ca }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body) as T) : reject(new Error(`${url}: ${res.statusCode} ${body.slice(0, 200)}`))));
        })
        .on('error', reject);
    });
  }

  it('is reached by the real agent trusting SONDE_CA_CERT, end to end (HTTPS API, agent welcomed)', async () => {
    const certs = join(scratch, 'certs');
    mkdirSync(certs);
    writeFileSync(join(certs, 'tls.crt'), pki.cert);
    writeFileSync(join(certs, 'tls.key'), pki.key);
    writeFileSync(join(certs, 'ca.crt'), pki.caCert);
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'operator', '--standalone', '--port', String(port), '--host', '127.0.0.1', '--data', join(scratch, 'data-tls'), '--tls-cert-dir', certs], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, SONDE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const operator = new Proc(child, 'tls-operator');
    procs.push(operator);
    const base = `https://127.0.0.1:${port}`;
    await eventually(async () => {
      if (!operator.running) throw new Error(`operator exited: ${operator.out.slice(-2000)}`);
      return (await httpsJson<unknown>(`${base}/healthz`, pki.caCert).catch(() => undefined)) ? true : undefined;
    }, 30_000, 'the operator on https');
    startAgentApp('wss-direct', { SONDE_URL: `wss://127.0.0.1:${port}/v1/agents`, SONDE_CA_CERT: pki.caCert, SONDE_LOG_LEVEL: 'warn' });
    const agents = await eventually(async () => {
      const list = await httpsJson<{ items: { pod: { name: string } }[] }>(`${base}/api/v1/agents`, pki.caCert);
      return list.items.some((a) => a.pod.name === 'wss-direct') ? list : undefined;
    }, 20_000, 'the agent welcomed over wss://');
    expect(agents.items.map((a) => a.pod.name)).toEqual(['wss-direct']);
  }, 60_000);
});

describe.skipIf(missing)('a token file over plain ws://', () => {
  /** A WebSocket endpoint on loopback that records the Authorization header of every upgrade it is asked for. */
  async function recorder(): Promise<{ port: number; seen: string[] }> {
    const seen: string[] = [];
    const server = createServer();
    server.on('upgrade', (req: IncomingMessage, socket) => {
      seen.push(req.headers.authorization ?? '(none)');
      socket.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => server.close());
    return { port: (server.address() as AddressInfo).port, seen };
  }

  it('is refused to a non-loopback address (0.0.0.0 reaches this host, yet is not loopback), with one line, and sent to loopback', async () => {
    const farToken = join(scratch, 'far-token');
    const nearToken = join(scratch, 'near-token');
    writeFileSync(farToken, 'projected-sa-token-far\n');
    writeFileSync(nearToken, 'projected-sa-token-near\n');
    const rec = await recorder();
    const refused = startAgentApp('plain-far', { SONDE_URL: `ws://0.0.0.0:${rec.port}/v1/agents`, SONDE_TOKEN_FILE: farToken, SONDE_LOG_LEVEL: 'warn' });
    // The control: a token file to loopback over ws:// is sent (standalone, kubectl port-forward).
    startAgentApp('plain-near', { SONDE_URL: `ws://127.0.0.1:${rec.port}/v1/agents`, SONDE_TOKEN_FILE: nearToken, SONDE_LOG_LEVEL: 'warn' });
    await eventually(() => (rec.seen.length > 0 ? true : undefined), 10_000, 'the loopback agent to dial');
    await eventually(() => (/listening \d+/.test(refused.out) ? true : undefined), 10_000, 'the app to start');
    await sleep(1500);
    expect(new Set(rec.seen)).toEqual(new Set(['Bearer projected-sa-token-near']));
    const lines = refused.out.split('\n').filter((l) => /sonde/i.test(l));
    expect(lines).toEqual([expect.stringMatching(/^sonde agent: not started: refusing to send the token of SONDE_TOKEN_FILE \(a Kubernetes credential\) over plain ws:\/\/ to 0\.0\.0\.0:\d+, which is not a loopback address/)]);
    expect(refused.running).toBe(true);
  }, 60_000);

  it('is refused too when the library is given one directly (startAgent), which logs it and keeps the app', async () => {
    const tokenFile = join(scratch, 'token2');
    writeFileSync(tokenFile, 'projected-sa-token-def\n');
    const rec = await recorder();
    const script = `
      const { startAgent } = await import(${JSON.stringify(LIB)});
      const agent = startAgent({ url: 'ws://0.0.0.0:${rec.port}/v1/agents', tokenFile: ${JSON.stringify(tokenFile)}, logLevel: 'error' });
      setTimeout(async () => { console.log('alive ' + agent.catalogue().length); await agent.close(); }, 1500);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
    const proc = new Proc(child, 'library');
    procs.push(proc);
    expect(await proc.exited).toBe(0);
    expect(proc.out).toContain('alive 0');
    expect(proc.out).toMatch(/refusing to send the token of SONDE_TOKEN_FILE.*not connecting/);
    expect(rec.seen).toEqual([]);
  }, 30_000);
});
