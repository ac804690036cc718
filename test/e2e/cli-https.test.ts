import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, type TestPki } from '../harness/test-ca.js';
import { CLI, eventually, freePort, missingBuild, Proc } from './processes.js';

function sonde(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** `sonde sessions` over HTTPS: it trusts the CA given with --ca, and only that. */
describe.skipIf(missingBuild())('sonde sessions against an operator serving HTTPS (--tls-cert-dir)', () => {
  let scratch: string;
  let pki: TestPki;
  let operator: Proc;
  let base: string;
  let plainPort: number;
  let plainServer: Server;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'sonde-cli-https-'));
    pki = makeTestPki();
    const certs = join(scratch, 'certs');
    mkdirSync(certs);
    writeFileSync(join(certs, 'tls.crt'), pki.cert);
    writeFileSync(join(certs, 'tls.key'), pki.key);
    writeFileSync(join(certs, 'ca.crt'), pki.caCert);
    writeFileSync(join(scratch, 'ca.crt'), pki.caCert);
    writeFileSync(join(scratch, 'other-ca.crt'), makeTestPki('another-ca').caCert);
    plainServer = createServer((_req, res) => res.end('{}'));
    await new Promise<void>((r) => plainServer.listen(0, '127.0.0.1', r));
    plainPort = (plainServer.address() as { port: number }).port;
    const port = await freePort();
    base = `https://127.0.0.1:${port}`;
    const child = spawn(process.execPath, [CLI, 'operator', '--standalone', '--port', String(port), '--host', '127.0.0.1', '--data', join(scratch, 'data'), '--tls-cert-dir', certs], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, SONDE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    operator = new Proc(child, 'https-operator');
    await eventually(async () => {
      if (!operator.running) throw new Error(`operator exited: ${operator.out.slice(-2000)}`);
      const r = await sonde(['sessions', '--url', base, '--ca', join(scratch, 'ca.crt'), '--timeout', '2s']);
      return r.status === 0 || undefined;
    }, 30_000, 'the operator on https');
  }, 60_000);
  afterAll(async () => {
    await operator?.stop('SIGKILL', 1000);
    await new Promise<void>((r) => plainServer.close(() => r()));
    rmSync(scratch, { recursive: true, force: true });
  });

  it('works with the operator CA, and says what is wrong without it, with another CA, or with plain http', async () => {
    const ok = await sonde(['sessions', 'start', 'tls-one', '--request', 'GET /x', '--url', base, '--ca', join(scratch, 'ca.crt')]);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    const list = await sonde(['sessions', '--url', `https://localhost:${new URL(base).port}`, '--ca', join(scratch, 'ca.crt')]);
    expect(list.stdout).toMatch(/^default +tls-one /m);

    const noCa = await sonde(['sessions', '--url', base]);
    expect(noCa.status).toBe(3);
    expect(noCa.stderr).toMatch(/cannot trust https:\/\/127\.0\.0\.1:\d+: .*pass the operator's CA with --ca FILE/);
    const otherCa = await sonde(['sessions', '--url', base, '--ca', join(scratch, 'other-ca.crt')]);
    expect(otherCa.status).toBe(3);
    expect(otherCa.stderr).toMatch(/cannot trust/);
    const plain = await sonde(['sessions', '--url', base.replace('https:', 'http:'), '--timeout', '3s']);
    expect(plain.status).toBe(3);
    expect(plain.stderr).toMatch(/^sonde sessions: cannot talk to http:\/\/127\.0\.0\.1:\d+: the connection was reset .*use https:\/\/ and --ca\n$/);
    const tlsToPlain = await sonde(['sessions', '--url', 'https://127.0.0.1:' + String(plainPort), '--timeout', '3s']);
    expect(tlsToPlain.status).toBe(3);
    expect(tlsToPlain.stderr).toMatch(/the port does not answer TLS \(a plain-http operator\? use http:\/\/\)\n$/);
    const caOnHttp = await sonde(['sessions', '--url', base.replace('https:', 'http:'), '--ca', join(scratch, 'ca.crt')]);
    expect(caOnHttp.status).toBe(2);
    expect(caOnHttp.stderr).toMatch(/--ca is for an https URL/);
    const notPem = await sonde(['sessions', '--url', base, '--ca', join(scratch, 'certs', 'tls.key')]);
    expect(notPem.status).toBe(2);
    expect(notPem.stderr).toMatch(/not a PEM certificate/);
  });
});
