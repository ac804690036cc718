import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionView } from '../../src/session/types.js';
import { FakeAgent, fakeRequest } from '../harness/fake-agent.js';
import { CLI, eventually, getJson, missingBuild, type OperatorProcess, startOperator, stopAll } from './processes.js';

const ORDERS = 'GET /api/orders/:id';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `sonde` as a user would, asynchronously (the fake agents in this process keep answering). */
function sonde(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'sonde-cli-cmds-'));
});
afterAll(async () => {
  await stopAll();
  rmSync(work, { recursive: true, force: true });
});

describe.skipIf(missingBuild())('sonde sessions and sonde export against a standalone operator', () => {
  let op: OperatorProcess;
  let agents: FakeAgent[] = [];
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    op = await startOperator(['--standalone', '--data', join(work, 'data-open')]);
    env = { SONDE_OPERATOR_URL: op.url };
    const catalogue = [{ type: ORDERS, count: 10, errors: 0, p50Ms: 10, p90Ms: 20, p99Ms: 30 }];
    for (const name of ['shop-0', 'shop-1']) {
      agents.push(await FakeAgent.connect({ url: op.agentUrl, pod: { name, namespace: 'default', uid: '' }, labels: { app: 'shop' }, catalogue }));
    }
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    agents = [];
  });

  it('starts a session from flags, shows its progress and hotspots, lists it, and exports pprof', async () => {
    const start = await sonde(['sessions', 'start', 'orders', '--request', ORDERS, '--selector', 'app=shop', '--requests', '4', '--duration', '1m', '--sample-interval', '5ms'], env);
    expect(start.stderr).toBe('');
    expect(start.status).toBe(0);
    const id = /\(id ([0-9a-f-]{36})\)/.exec(start.stdout)?.[1];
    expect(start.stdout).toMatch(/^created default\/orders \(id [0-9a-f-]{36}\)/);
    expect(id).toBeDefined();

    for (const a of agents) {
      const s = (await a.waitFor((m) => m.type === 'start' && m.session === id)) as { sampleIntervalMs?: number };
      expect(s).toBeDefined();
    }
    agents[0]!.report(id!, [fakeRequest(ORDERS, { hot: 'priceOrder', samples: 40 }), fakeRequest(ORDERS, { hot: 'priceOrder', samples: 40 })]);
    agents[1]!.report(id!, [fakeRequest(ORDERS, { hot: 'renderInvoice', samples: 10 }), fakeRequest(ORDERS, { hot: 'renderInvoice', samples: 10 })]);
    await eventually(async () => (await getJson<SessionView>(`${op.url}/api/v1/sessions/${id}`)).status.phase === 'Completed' || undefined, 20_000, 'Completed');

    const show = await sonde(['sessions', 'show', 'orders'], env);
    expect(show.status).toBe(0);
    expect(show.stdout).toMatch(/^Name: +default\/orders$/m);
    expect(show.stdout).toMatch(/^Phase: +Completed$/m);
    expect(show.stdout).toMatch(/^Progress: +4\/4 requests profiled$/m);
    expect(show.stdout).toMatch(/^Sample interval: +5ms$/m);
    expect(show.stdout).toMatch(/^ +shop-0 +\w+ +2 /m);
    // The hotspots the operator computed, biggest first: priceOrder has 4× renderInvoice's samples.
    const hot = show.stdout.split('Top hotspots (self time):\n')[1]!.split('\n').filter(Boolean);
    expect(hot[0]).toMatch(/^ +\d+\.\d%  priceOrder /);
    expect(hot.some((l) => /renderInvoice/.test(l))).toBe(true);

    // The same by id, and as JSON.
    const byId = await sonde(['sessions', 'show', id!, '--json'], env);
    expect((JSON.parse(byId.stdout) as SessionView).status.requestsProfiled).toBe(4);

    const list = await sonde(['sessions'], env);
    expect(list.status).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAMESPACE +NAME +PHASE +PROGRESS +REQUEST +AGE +ID$/);
    expect(lines.find((l) => l.includes(id!))).toMatch(/^default +orders +Completed +4\/4 +GET \/api\/orders\/:id +\d+s +/);
    const running = await sonde(['sessions', 'list', '--phase', 'Running'], env);
    expect(running.stdout).not.toContain(id);

    // pprof by default, under the operator's file name, in the current directory.
    const dir = mkdtempSync(join(work, 'export-'));
    const exp = await sonde(['export', 'default/orders'], env, dir);
    expect(exp.stderr).toMatch(/^sonde export: wrote \d+ bytes \(pprof\) to .*sonde-default-orders\.pb\.gz\n$/);
    expect(exp.status).toBe(0);
    const profile = Profile.decode(gunzipSync(readFileSync(join(dir, 'sonde-default-orders.pb.gz'))));
    const str = (i: number | bigint): string => profile.stringTable.strings[Number(i)]!;
    const names = profile.function.map((f) => str(f.name));
    expect(names).toEqual(expect.arrayContaining(['handler', 'priceOrder', 'renderInvoice', 'helper']));
    const total = profile.sample.reduce((n, s) => n + Number(s.value[0]), 0);
    expect(total).toBe(100); // 40+40+10+10 samples, every one
    // A second export to the same name is refused and the file kept; --force replaces it.
    const again = await sonde(['export', 'default/orders'], env, dir);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/sonde-default-orders\.pb\.gz exists; add --force/);
    expect((await sonde(['export', 'default/orders', '--force'], env, dir)).status).toBe(0);
    expect(readdirSync(dir)).toEqual(['sonde-default-orders.pb.gz']); // no partial files left

    // Another format, one pod, to stdout.
    const folded = await sonde(['export', id!, '--format', 'collapsed', '--pod', 'shop-1', '-o', '-'], env);
    expect(folded.status).toBe(0);
    expect(folded.stdout).toMatch(/;renderInvoice \d+/);
    expect(folded.stdout).not.toMatch(/priceOrder/);
    const json = await sonde(['export', id!, '--format', 'json'], env);
    expect((JSON.parse(json.stdout) as { requests: number }).requests).toBe(4);
  });

  it('follows a session it starts with --wait to its end, then shows it; the exit code says how it ended', async () => {
    const waiting = sonde(['sessions', 'start', 'waited', '--request', ORDERS, '--selector', 'app=shop', '--requests', '2', '--wait'], env);
    const id = await eventually(async () => (await getJson<{ items: SessionView[] }>(`${op.url}/api/v1/sessions`)).items.find((s) => s.name === 'waited')?.id, 10_000, 'the waited session');
    await agents[0]!.waitFor((m) => m.type === 'start' && m.session === id);
    agents[0]!.report(id, [fakeRequest(ORDERS, { hot: 'waitedHot' }), fakeRequest(ORDERS, { hot: 'waitedHot' })]);
    const done = await waiting;
    expect(done.stderr).toBe('');
    expect(done.status).toBe(0);
    expect(done.stdout).toMatch(/^ {2}default\/waited: Completed 2\/2$/m);
    expect(done.stdout).toMatch(/^Phase: +Completed$/m);
    expect(done.stdout).toMatch(/^ +\d+\.\d%  waitedHot /m);

    // No pod matches: the session ends at its 1 s deadline with nothing profiled, and --wait says so (4).
    const nobody = await sonde(['sessions', 'start', 'nobody', '--request', ORDERS, '--selector', 'app=none', '--duration', '1s', '--wait', '--json'], env);
    const end = JSON.parse(nobody.stdout) as SessionView;
    expect(end.status.requestsProfiled).toBe(0);
    expect(nobody.status).toBe(4);
    const shown = await sonde(['sessions', 'show', 'nobody'], env);
    expect(shown.stdout).toMatch(/^ {2}\(none: nothing was profiled\)$/m);

    // A request type no agent has reported: created, with the operator's warning once.
    const unseen = await sonde(['sessions', 'start', 'unseen', '--request', 'GET /never/seen', '--selector', 'app=shop'], env);
    expect(unseen.status).toBe(0);
    expect(unseen.stdout.match(/GET \/never\/seen/g)?.length).toBe(1);
    expect(unseen.stdout).toMatch(/^ {2}warning: .*"GET \/never\/seen"/m);
    expect((await sonde(['sessions', 'stop', 'unseen', '--purge'], env)).status).toBe(0);
  });

  it('starts every session of a file, and stops and purges one', async () => {
    const file = join(work, 'sessions.yaml');
    writeFileSync(
      file,
      ['apiVersion: sonde.dev/v1alpha1', 'kind: ProfilingSession', 'metadata: {name: from-file-a}', `spec: {selector: {matchLabels: {app: shop}}, request: "${ORDERS}", requests: 50}`, '---', 'kind: ProfilingSession', 'metadata: {name: from-file-b, namespace: default}', `spec: {selector: {matchLabels: {app: shop}}, request: "${ORDERS}", requests: 60, duration: 2m}`].join('\n'),
    );
    const start = await sonde(['sessions', 'start', '-f', file], env);
    expect(start.stderr).toBe('');
    expect(start.status).toBe(0);
    expect(start.stdout).toMatch(/^created default\/from-file-a /m);
    expect(start.stdout).toMatch(/^created default\/from-file-b /m);
    const b = await getJson<SessionView>(`${op.url}/api/v1/sessions/${encodeURIComponent('default/from-file-b')}`);
    expect(b.spec).toMatchObject({ requests: 60, duration: '2m', request: ORDERS });
    expect(b.status.phase).toBe('Running');

    const stop = await sonde(['sessions', 'stop', 'from-file-b'], env);
    expect(stop.status).toBe(0);
    expect(stop.stdout).toMatch(/^stopped default\/from-file-b: (Completed|Failed), \d+\/60 requests profiled$/m);
    for (const a of agents) await a.waitFor((m) => m.type === 'stop' && m.session === b.id);

    const purge = await sonde(['sessions', 'stop', 'default/from-file-a', '--purge'], env);
    expect(purge.status).toBe(0);
    expect(purge.stdout.trim()).toBe('purged default/from-file-a and its results');
    const gone = await fetch(`${op.url}/api/v1/sessions/${encodeURIComponent('default/from-file-a')}`);
    expect(gone.status).toBe(404);
  });

  it('answers bad input with the flag or the API error and its code, and sends nothing when the input is bad', async () => {
    const before = (await getJson<{ items: unknown[] }>(`${op.url}/api/v1/sessions`)).items.length;
    const usage: [string[], RegExp][] = [
      [['sessions', 'start', 'x', '--request', ORDERS, '--requests', 'many'], /--requests must be a whole number, got "many"/],
      [['sessions', 'start', 'Bad_Name', '--request', ORDERS], /session name must be a lowercase DNS name/],
      [['sessions', 'start', 'x'], /--request TYPE is required/],
      [['sessions', 'start', 'x', '--request', ORDERS, '--selector', 'app'], /--selector: "app" is not key=value/],
      [['sessions', 'start', '-f', join(work, 'missing.yaml')], /-f .*missing\.yaml: no such file/],
      [['sessions', 'show'], /show takes one SESSION/],
      [['sessions', 'show', '../etc'], /the namespace in "\.\.\/etc" must be a lowercase DNS label/],
      [['sessions', 'show', 'default/Not_A_Name'], /is not a session id, NAME or NAMESPACE\/NAME/],
      [['sessions', 'list', '--phase', 'Done'], /--phase must be one of Pending, Running, Completed, Failed/],
      [['sessions', 'list', '--purge'], /--purge is for `sonde sessions stop`, not list/],
      [['sessions', 'frob'], /unknown subcommand "frob"/],
      [['sessions', '--prot', '1'], /Unknown option '--prot'/],
      [['sessions', '--url', 'ftp://x'], /--url must be an http:\/\/ or https:\/\/ URL/],
      [['sessions', '--timeout', '1us'], /--timeout must be between 100ms and 1h/],
      [['export', 'orders', '--format', 'svg'], /--format must be one of json, pprof, collapsed, speedscope, cpuprofile, d3, got "svg"/],
      [['export', 'orders', '--split', 'fast'], /--split must be slow or typical/],
      [['export'], /give one SESSION/],
    ];
    for (const [args, message] of usage) {
      const r = await sonde(args, env);
      expect({ args, status: r.status }).toEqual({ args, status: 2 });
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/Run `sonde (sessions|export) --help` for usage\./);
    }
    // A file with one bad document: every problem, nothing created.
    const bad = join(work, 'bad.yaml');
    writeFileSync(bad, ['kind: ProfilingSession', 'metadata: {name: ok-one}', 'spec: {request: x}', '---', 'kind: Wrong', 'metadata: {name: Bad_Name}', 'spec: {}'].join('\n'));
    const badFile = await sonde(['sessions', 'start', '-f', bad], env);
    expect(badFile.status).toBe(2);
    expect(badFile.stderr).toMatch(/kind must be ProfilingSession/);
    expect(badFile.stderr).toMatch(/metadata\.name must be a lowercase DNS name/);
    expect((await getJson<{ items: unknown[] }>(`${op.url}/api/v1/sessions`)).items.length).toBe(before);

    // The operator's own refusals: the code, the message and every problem; exit 1.
    const spec = await sonde(['sessions', 'start', 'bad-spec', '--request', ORDERS, '--requests', '-3', '--sample-interval', '5s'], env);
    expect(spec.status).toBe(1);
    expect(spec.stderr).toMatch(/^sonde sessions: SONDE_INVALID_SPEC \(HTTP 400\): /);
    expect(spec.stderr).toMatch(/^ {2}spec\.requests: .*-3/m);
    expect(spec.stderr).toMatch(/^ {2}spec\.sampleInterval: .*5s/m);
    const conflict = await sonde(['sessions', 'start', 'orders', '--request', ORDERS], env);
    expect(conflict.status).toBe(1);
    expect(conflict.stderr).toMatch(/^sonde sessions: SONDE_CONFLICT \(HTTP 409\)/);
    const missing = await sonde(['sessions', 'show', 'nope'], env);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^sonde sessions: SONDE_NOT_FOUND \(HTTP 404\): .*default\/nope/);
    const missingExport = await sonde(['export', 'nope', '-o', join(work, 'nope.pb.gz')], env);
    expect(missingExport.status).toBe(1);
    expect(missingExport.stderr).toMatch(/SONDE_NOT_FOUND/);
    expect(existsSync(join(work, 'nope.pb.gz'))).toBe(false);
    expect((await getJson<{ items: unknown[] }>(`${op.url}/api/v1/sessions`)).items.length).toBe(before);

    // A file whose second session the operator refuses: the first is created, the refusal printed, exit 1.
    const mixed = join(work, 'mixed.yaml');
    writeFileSync(mixed, ['kind: ProfilingSession', 'metadata: {name: mixed-new}', `spec: {request: "${ORDERS}"}`, '---', 'kind: ProfilingSession', 'metadata: {name: orders}', `spec: {request: "${ORDERS}"}`].join('\n'));
    const half = await sonde(['sessions', 'start', '-f', mixed], env);
    expect(half.status).toBe(1);
    expect(half.stdout).toMatch(/^created default\/mixed-new /m);
    expect(half.stderr).toMatch(/^sonde sessions: default\/orders: SONDE_CONFLICT \(HTTP 409\)/m);
    expect((await sonde(['sessions', 'stop', 'mixed-new', '--purge'], env)).status).toBe(0);

    // No operator there: exit 3 and what to do.
    const down = await sonde(['sessions', '--url', 'http://127.0.0.1:1'], env);
    expect(down.status).toBe(3);
    expect(down.stderr).toMatch(/cannot reach the operator at http:\/\/127\.0\.0\.1:1: connection refused/);
  });
});

describe.skipIf(missingBuild())('sonde sessions against a token-guarded operator', () => {
  const TOKEN = 'cli-test-token-0123456789abcdef';
  let op: OperatorProcess;

  beforeAll(async () => {
    op = await startOperator(['--standalone', '--auth', 'token', '--data', join(work, 'data-token')], { SONDE_TOKEN: TOKEN });
  });

  it('says which token to bring, refuses a wrong one, and works with the right one from a flag, a file or the environment', async () => {
    const url = { SONDE_OPERATOR_URL: op.url };
    const none = await sonde(['sessions'], url);
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/^sonde sessions: SONDE_AUTH_REQUIRED \(HTTP 401\)/);
    expect(none.stderr).toMatch(/this operator runs with --auth token: pass its SONDE_TOKEN with --token/);

    const wrong = await sonde(['sessions', '--token', 'not-the-token'], url);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/SONDE_TOKEN_REFUSED \(HTTP 401\)/);
    expect(wrong.stderr).toMatch(/refused the token from --token/);

    // A token that would add a header line is refused before anything is sent.
    const injected = await sonde(['sessions', '--token', `${TOKEN}\r\nX-Evil: 1`], url);
    expect(injected.status).toBe(2);
    expect(injected.stderr).toMatch(/--token: the token has characters a bearer token cannot have/);

    const tokenFile = join(work, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const start = await sonde(['sessions', 'start', 'guarded', '--request', ORDERS, '--token-file', tokenFile], url);
    expect(start.stderr).toBe('');
    expect(start.status).toBe(0);
    const list = await sonde(['sessions'], { ...url, SONDE_API_TOKEN: TOKEN });
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(/^default +guarded +(Pending|Running|Failed) /m);
    // Standalone users have the operator's SONDE_TOKEN in their environment already.
    const show = await sonde(['sessions', 'show', 'guarded'], { ...url, SONDE_TOKEN: TOKEN });
    expect(show.status).toBe(0);
    const exp = await sonde(['export', 'guarded', '-o', join(work, 'guarded.pb.gz')], { ...url, SONDE_TOKEN: TOKEN });
    expect(exp.status).toBe(0);
    expect(Profile.decode(gunzipSync(readFileSync(join(work, 'guarded.pb.gz')))).sample).toEqual([]);
    const stop = await sonde(['sessions', 'stop', 'guarded', '--purge', '--token', TOKEN], url);
    expect(stop.status).toBe(0);
  });
});

describe.skipIf(missingBuild())('sonde export against a hostile server', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url?.includes('/tree')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-disposition': 'attachment; filename="../../escaped.pb.gz"' });
        res.end('data');
        return;
      }
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'SONDE_X', message: 'bad \u001b[31mred\u001b[0m \u0007', problems: [{ field: 'a\u001b]0;title\u0007', message: 'm' }] } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('keeps a suggested file name inside the current directory and strips terminal escapes from errors', async () => {
    const dir = mkdtempSync(join(work, 'hostile-'));
    const sub = join(dir, 'a', 'b');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(sub, { recursive: true });
    const r = await sonde(['export', 'orders', '--url', url], {}, sub);
    expect(r.status).toBe(0);
    expect(readdirSync(sub)).toEqual(['escaped.pb.gz']);
    expect(existsSync(join(dir, 'escaped.pb.gz'))).toBe(false);

    const e = await sonde(['sessions', '--url', url], {});
    expect(e.status).toBe(1);
    expect(e.stderr).toMatch(/^sonde sessions: SONDE_X \(HTTP 400\): bad  \[31mred \[0m  /);
    expect(e.stderr).not.toMatch(/[\u0007\u001b]/);
  });
});

describe.skipIf(missingBuild())('per-command help', () => {
  it('describes each command, its options and its exit codes', async () => {
    const expectations: [string, RegExp[]][] = [
      ['operator', [/^sonde operator — /, /--standalone/, /--auth MODE/, /Exit codes:/]],
      ['demo', [/^sonde demo — /, /--once/, /--requests N/, /Exit codes:/]],
      ['sample-app', [/^sonde sample-app — /, /--port PORT/, /Exit codes:/]],
      ['sample-traffic', [/^sonde sample-traffic — /, /--target URL/, /Exit codes:/]],
      ['agent-bundle', [/^sonde agent-bundle — /, /--runtime/, /Exit codes:/]],
      ['sessions', [/^sonde sessions — /, /sessions start -f FILE/, /--token-file FILE/, /Exit codes: 0 done; 1 the operator refused/]],
      ['export', [/^sonde export — /, /pprof +pprof \(go tool pprof/, /--ca FILE/, /Exit codes:/]],
    ];
    const main = await sonde(['--help']);
    for (const [command, patterns] of expectations) {
      expect(main.stdout).toContain(`sonde ${command}`);
      const r = await sonde([command, '--help']);
      expect({ command, status: r.status }).toEqual({ command, status: 0 });
      for (const p of patterns) expect(r.stdout).toMatch(p);
      // Each command's help is its own, not the general one.
      expect(r.stdout).not.toMatch(/^sonde — profile the next N requests/);
    }
  });
});
