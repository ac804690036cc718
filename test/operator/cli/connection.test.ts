import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sessionRef } from '../../../operator/cli/cli-args.js';
import { UsageError } from '../../../operator/cli/cli-errors.js';
import { isLoopback, resolveConnection } from '../../../operator/cli/connection.js';
import { suggestedName } from '../../../operator/cli/run-export.js';

const dir = mkdtempSync(join(tmpdir(), 'sonde-cli-conn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const problems = (f: () => unknown): string[] => {
  try {
    f();
  } catch (e) {
    if (e instanceof UsageError) return e.problems;
    throw e;
  }
  return [];
};

describe('the REST commands’ connection', () => {
  it('takes the token from --token, --token-file, SONDE_API_TOKEN, SONDE_API_TOKEN_FILE, then SONDE_TOKEN', () => {
    const env = { SONDE_API_TOKEN: 'env-api', SONDE_API_TOKEN_FILE: file('envfile', 'env-file\n'), SONDE_TOKEN: 'shared' };
    expect(resolveConnection({ token: 'flag' }, env)).toMatchObject({ token: 'flag', tokenSource: '--token' });
    expect(resolveConnection({ 'token-file': file('flagfile', ' from-file \n') }, env)).toMatchObject({ token: 'from-file' });
    expect(resolveConnection({}, env)).toMatchObject({ token: 'env-api', tokenSource: 'SONDE_API_TOKEN' });
    expect(resolveConnection({}, { ...env, SONDE_API_TOKEN: undefined })).toMatchObject({ token: 'env-file' });
    expect(resolveConnection({}, { SONDE_TOKEN: 'shared' })).toMatchObject({ token: 'shared', tokenSource: 'SONDE_TOKEN' });
    const none = resolveConnection({}, {});
    expect(none.token).toBeUndefined();
    expect(none.base.href).toBe('http://127.0.0.1:7070/');
    expect(none.timeoutMs).toBe(30_000);
  });

  it('refuses what would break or forge a request, every problem at once', () => {
    expect(problems(() => resolveConnection({ url: 'http://user:pw@host', token: 'a b', timeout: '5', ca: join(dir, 'missing.pem') }, {}))).toEqual([
      '--url must not carry credentials; use --token',
      '--token: the token has characters a bearer token cannot have (spaces, line breaks or control characters)',
      '--ca ' + join(dir, 'missing.pem') + ': no such file',
      '--ca is for an https URL; http://host is plain http',
      '--timeout: "5" is not a duration (use units ms, s, m, h, e.g. "90s" or "5m")',
    ]);
    expect(problems(() => resolveConnection({ 'token-file': file('big', 'x'.repeat(70_000)) }, {}))[0]).toMatch(/more than the 65536 a token or CA file may have/);
    expect(problems(() => resolveConnection({ token: 'a', 'token-file': file('t', 'b') }, {}))).toContain('give --token or --token-file, not both');
    expect(problems(() => resolveConnection({ token: '' }, {}))).toEqual(['--token: the token is empty']);
    expect(problems(() => resolveConnection({ url: 'http://x/?q=1' }, {}))[0]).toMatch(/must not have a query/);
    expect(problems(() => resolveConnection({}, { SONDE_OPERATOR_URL: 'nope' }))).toEqual(['SONDE_OPERATOR_URL is not a URL: "nope"']);
  });

  it('knows loopback hosts (where a token over plain http cannot be overheard)', () => {
    for (const u of ['http://127.0.0.1:1', 'http://127.8.9.10', 'http://localhost:7070', 'http://[::1]:7070']) expect(isLoopback(new URL(u))).toBe(true);
    for (const u of ['http://10.0.0.1', 'http://sonde.sonde.svc', 'http://localhost.evil.example', 'http://[::ffff:7f00:1]']) expect(isLoopback(new URL(u))).toBe(false);
  });
});

describe('session references and export file names', () => {
  it('maps id, NAME and NAMESPACE/NAME to the API path segment', () => {
    expect(sessionRef('9d1c0a2e-1111-4222-8333-444455556666', undefined)).toBe('9d1c0a2e-1111-4222-8333-444455556666');
    expect(sessionRef('orders', undefined)).toBe('default%2Forders');
    expect(sessionRef('orders', 'shop')).toBe('shop%2Forders');
    expect(sessionRef('shop/orders', undefined)).toBe('shop%2Forders');
    expect(problems(() => sessionRef('shop/orders', 'other'))[0]).toMatch(/names namespace shop but --namespace says other/);
    expect(problems(() => sessionRef('a/b/c', undefined))[0]).toMatch(/is not a session id/);
    expect(problems(() => sessionRef('orders?x=1', undefined))[0]).toMatch(/is not a session id/);
  });

  it('keeps the suggested file name a plain name in the current directory', () => {
    expect(suggestedName('attachment; filename="sonde-default-orders.pb.gz"', 'default/orders', 'pprof')).toBe('sonde-default-orders.pb.gz');
    expect(suggestedName('attachment; filename="../../etc/passwd"', 'default/orders', 'pprof')).toBe('passwd');
    for (const bad of ['attachment; filename=".bashrc"', 'attachment; filename="a b;c"', 'attachment; filename=""', undefined]) {
      expect(suggestedName(bad, 'default/orders', 'collapsed')).toBe('sonde-default-orders.folded');
    }
  });
});
