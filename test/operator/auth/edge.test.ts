import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ConfigError } from '../../../operator/config.js';
import { loadConfig } from '../../../operator/main.js';
import { hostAllowed, hostPolicy, originAllowed } from '../../../operator/auth/host-check.js';
import { startRig, type Rig } from '../api/api-harness.js';

const TOKEN = 'shared-secret-123';

/** A raw HTTP request, so tests can send any Host header (fetch will not). */
function raw(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Opens a WebSocket to the agent path with the given headers; resolves with the HTTP status of a refusal, or 101. */
function upgrade(url: string, headers: Record<string, string>, origin?: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers, ...(origin ? { origin } : {}) });
    ws.on('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('error', () => resolve(-1));
  });
}

describe('standalone with SONDE_TOKEN on a non-loopback host', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig(['--host', '0.0.0.0', '--local-port', '0'], { SONDE_TOKEN: TOKEN });
  });
  afterAll(async () => {
    await rig?.close();
  });

  it('guards the API with the shared token by default: none → 401, wrong → 401, right → read and write', async () => {
    const base = rig.op.url;
    expect(rig.op.config.host).toBe('0.0.0.0');
    const none = await fetch(`${base}/api/v1/sessions`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="sonde"');
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('SONDE_AUTH_REQUIRED');
    const wrong = await fetch(`${base}/api/v1/sessions`, { headers: { authorization: 'Bearer not-the-token' } });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('SONDE_TOKEN_REFUSED');
    const auth = { authorization: `Bearer ${TOKEN}` };
    // Without the token nobody creates, deletes or purges.
    const anonPost = await fetch(`${base}/api/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x', spec: { request: 'GET /' } }) });
    expect(anonPost.status).toBe(401);
    const post = await fetch(`${base}/api/v1/sessions`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x', spec: { request: 'GET /' } }) });
    expect(post.status).toBe(201);
    const id = ((await post.json()) as { id: string }).id;
    expect((await fetch(`${base}/api/v1/sessions/${id}?purge=true`, { method: 'DELETE' })).status).toBe(401);
    expect((await fetch(`${base}/api/v1/sessions/${id}`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    // Encoded and doubled paths route to the same handlers and are guarded like them.
    for (const path of ['/%61pi/v1/sessions', '/api/v1/%73essions', '/api/v1//sessions', '/api/v1/sessions/', '/%6detrics', '/api/v1/sessions;x']) {
      const res = await fetch(base + path);
      expect([401, 404], path).toContain(res.status);
      expect(await res.text(), path).not.toMatch(/"items"|sonde_sessions/);
    }
    expect((await fetch(`${base}/metrics`, { headers: auth })).status).toBe(200);
    expect(await (await fetch(`${base}/api/v1/info`)).json()).toMatchObject({ mode: 'standalone', auth: 'token' });
    // Agents present the same token as before.
    const agent = await rig.connect({ pod: { name: 'a-0', namespace: 'default', uid: '' }, token: TOKEN });
    expect(agent.isOpen).toBe(true);
  });

  it('serves the UI and API without credentials on the --local-port listener, on 127.0.0.1 only, and no agents there', async () => {
    const local = rig.op.localUrl!;
    expect(local).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${local}/api/v1/sessions`);
    expect(res.status).toBe(200);
    expect(await (await fetch(`${local}/api/v1/access`)).json()).toMatchObject({ user: 'port-forward', namespaces: 'all', write: true });
    expect((await fetch(`${local}/`)).status).toBe(200);
    expect(await upgrade(`${local.replace('http', 'ws')}/v1/agents`, { authorization: `Bearer ${TOKEN}` })).toBe(404);
    // DNS rebinding against the local listener is refused too.
    expect((await raw(`${local}/api/v1/sessions`, { headers: { host: 'attacker.example:7071' } })).status).toBe(421);
  });
});

describe('Host and Origin (a loopback operator with --auth none)', () => {
  let rig: Rig;
  let base: string;
  beforeAll(async () => {
    rig = await startRig();
    base = rig.op.url;
  });
  afterAll(async () => {
    await rig?.close();
  });

  it('refuses a Host that is not ours (DNS rebinding), for the API, the UI and the event stream', async () => {
    for (const path of ['/api/v1/sessions', '/', '/api/v1/events', '/api/v1/info']) {
      const res = await raw(base + path, { headers: { host: 'rebind.attacker.example:' + rig.op.port } });
      expect(res.status, path).toBe(421);
      expect(JSON.parse(res.body).error.code).toBe('SONDE_FOREIGN_HOST');
    }
    expect((await raw(`${base}/api/v1/sessions`, { headers: { host: `localhost:${rig.op.port}` } })).status).toBe(200);
    expect((await raw(`${base}/api/v1/sessions`, { headers: { host: `127.0.0.1:${rig.op.port}` } })).status).toBe(200);
    expect((await raw(`${base}/api/v1/sessions`, { headers: { host: 'not_a host!' } })).status).toBe(421);
  });

  it('refuses a cross-site page: a POST and a DELETE with a foreign Origin change nothing', async () => {
    const body = JSON.stringify({ name: 'evil', spec: { request: 'GET /' } });
    const evil = await raw(`${base}/api/v1/sessions`, { method: 'POST', headers: { origin: 'http://attacker.example', 'content-type': 'application/json', host: `127.0.0.1:${rig.op.port}` }, body });
    expect(evil.status).toBe(403);
    expect(JSON.parse(evil.body).error.code).toBe('SONDE_CROSS_ORIGIN');
    expect((await raw(`${base}/api/v1/sessions`, { headers: { origin: 'null' } })).status).toBe(403);
    expect(((await (await fetch(`${base}/api/v1/sessions`)).json()) as { items: unknown[] }).items).toEqual([]);
    // The UI's own origin is fine.
    const own = await raw(`${base}/api/v1/sessions`, { method: 'POST', headers: { origin: base, 'content-type': 'application/json', host: new URL(base).host }, body });
    expect(own.status).toBe(201);
  });

  it('refuses a browser\'s WebSocket to /v1/agents (cross-origin) and a foreign Host, and still takes real agents', async () => {
    const ws = `${base.replace('http', 'ws')}/v1/agents`;
    expect(await upgrade(ws, {}, 'http://attacker.example')).toBe(403);
    expect(await upgrade(ws, {}, base)).toBe(403);
    expect(await upgrade(ws, { host: 'rebind.attacker.example' })).toBe(421);
    expect(await upgrade(ws, {})).toBe(101);
  });
});

describe('the config of --auth and --local-port', () => {
  const load = (argv: string[], env: NodeJS.ProcessEnv = {}) => loadConfig(argv, env, '/tmp');
  it('refuses an unauthenticated API on a non-loopback host, and modes that cannot work', () => {
    expect(() => load(['--standalone', '--host', '0.0.0.0', '--auth', 'none'], { SONDE_TOKEN: TOKEN })).toThrow(/--auth none serves every namespace/);
    expect(() => load(['--host', '0.0.0.0', '--auth', 'none'])).toThrow(ConfigError);
    expect(() => load(['--standalone', '--auth', 'token'])).toThrow(/needs SONDE_TOKEN/);
    expect(() => load(['--standalone', '--auth', 'kubernetes'])).toThrow(/needs a cluster/);
    expect(() => load(['--auth', 'maybe'])).toThrow(/auth must be one of/);
    expect(() => load(['--port', '7070', '--local-port', '7070'])).toThrow(/is the main port/);
  });
  it('picks kubernetes in a cluster, token with SONDE_TOKEN, none otherwise; flags and env as the contract says', () => {
    expect(load(['--host', '0.0.0.0']).auth).toBeUndefined();
    expect(load(['--host', '0.0.0.0', '--local-port', '7071']).localPort).toBe(7071);
    expect(load([], { SONDE_AUTH: 'none', SONDE_LOCAL_PORT: '7071' })).toMatchObject({ auth: 'none', localPort: 7071 });
    expect(load(['--standalone', '--auth', 'none'], { SONDE_TOKEN: TOKEN }).auth).toBe('none');
  });
});

describe('host-check rules', () => {
  const p = hostPolicy({ host: '0.0.0.0', publicUrl: 'https://sonde.example.com' });
  it('takes IP literals, localhost, cluster names and configured names; nothing else', () => {
    for (const h of ['127.0.0.1:7070', '10.1.2.3', '[::1]:7070', 'localhost:7070', 'app.localhost', 'sonde.sonde-system.svc:7070', 'sonde.sonde-system.svc.cluster.local', 'sonde.example.com', 'SONDE.example.com.']) expect(hostAllowed(p, h), h).toBe(true);
    for (const h of [undefined, '', 'evil.example', 'sonde.example.com.evil.example', 'localhost.evil.example', 'a b', 'x'.repeat(400)]) expect(hostAllowed(p, h), String(h)).toBe(false);
  });
  it('takes no Origin, our own origin and the public URL\'s; refuses the rest', () => {
    expect(originAllowed(p, undefined, '127.0.0.1:7070')).toBe(true);
    expect(originAllowed(p, 'http://127.0.0.1:7070', '127.0.0.1:7070')).toBe(true);
    expect(originAllowed(p, 'https://sonde.example.com', 'sonde.sonde-system.svc:7070')).toBe(true);
    expect(originAllowed(p, 'http://127.0.0.1:9999', '127.0.0.1:7070')).toBe(false);
    expect(originAllowed(p, 'null', '127.0.0.1:7070')).toBe(false);
    expect(originAllowed(p, 'file://x', '127.0.0.1:7070')).toBe(false);
  });
});
