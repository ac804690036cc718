import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, readAgentConfig } from '../../agent/config.js';
import { credentialRefusal, isLoopbackHost, parseCaBundle } from '../../agent/connection/transport-security.js';
import { addonPath, BUNDLE_MANIFEST, platformKey } from '../../agent/sampler/native-addon.js';
import { makeTestPki } from '../harness/test-ca.js';

const pki = makeTestPki();
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('which hosts are loopback', () => {
  it('accepts localhost, 127.0.0.0/8 and ::1 only', () => {
    for (const h of ['localhost', 'LOCALHOST', 'localhost.', 'app.localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '[::]', '10.0.0.1', '128.0.0.1', 'sonde.sonde-system.svc', 'localhost.example.com', '127.0.0.1.nip.io', '']) expect(isLoopbackHost(h), h).toBe(false);
  });
});

describe('a token file and plain ws://', () => {
  it('refuses a token file over ws:// off loopback, allows wss:// anywhere and ws:// on loopback', () => {
    expect(credentialRefusal('ws://sonde.sonde-system.svc:7070/v1/agents', '/var/run/secrets/sonde/token')).toMatch(/refusing to send the token of SONDE_TOKEN_FILE .* to sonde\.sonde-system\.svc:7070/);
    expect(credentialRefusal('ws://0.0.0.0:7070/v1/agents', '/t')).toMatch(/not a loopback address/);
    expect(credentialRefusal('ws://[::]:7070/v1/agents', '/t')).toMatch(/not a loopback address/);
    expect(credentialRefusal('wss://sonde.sonde-system.svc:7070/v1/agents', '/t')).toBeUndefined();
    expect(credentialRefusal('ws://127.0.0.1:7070/v1/agents', '/t')).toBeUndefined();
    expect(credentialRefusal('ws://localhost:7070/v1/agents', '/t')).toBeUndefined();
    expect(credentialRefusal('ws://sonde:7070/v1/agents', undefined)).toBeUndefined();
  });

  it('is a configuration error naming the variable, so the agent does not start', () => {
    expect(() => readAgentConfig({ SONDE_URL: 'ws://sonde.sonde-system.svc:7070/v1/agents', SONDE_TOKEN_FILE: '/var/run/secrets/sonde/token' })).toThrow(/SONDE_TOKEN_FILE/);
    // A shared SONDE_TOKEN is the standalone user's own choice and stays allowed.
    expect(readAgentConfig({ SONDE_URL: 'ws://10.1.2.3:7070/v1/agents', SONDE_TOKEN: 't' }).token).toBe('t');
  });
});

describe('the CA the agent trusts', () => {
  it('reads SONDE_CA_CERT as PEM text, and SONDE_CA_FILE through the file reader', () => {
    const c = readAgentConfig({ SONDE_URL: 'wss://sonde.sonde-system.svc:7070/v1/agents', SONDE_CA_CERT: pki.caCert });
    expect(c.ca).toContain('-----BEGIN CERTIFICATE-----');
    const read: string[] = [];
    const f = readAgentConfig({ SONDE_CA_FILE: '/etc/sonde/ca.crt' }, (p) => {
      read.push(p);
      return pki.caCert + pki.cert;
    });
    expect(read).toEqual(['/etc/sonde/ca.crt']);
    expect(parseCaBundle(f.ca!)).toHaveLength(2);
  });

  it('rejects what is not a certificate, too much, both variables, or an unreadable file', () => {
    expect(() => readAgentConfig({ SONDE_CA_CERT: 'not a pem' })).toThrow(/SONDE_CA_CERT holds no PEM certificate/);
    const broken = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----';
    expect(() => readAgentConfig({ SONDE_CA_CERT: broken })).toThrow(/SONDE_CA_CERT certificate 1 does not parse/);
    expect(() => readAgentConfig({ SONDE_CA_CERT: pki.caCert.repeat(400) })).toThrow(/larger than 256 KiB/);
    expect(() => readAgentConfig({ SONDE_CA_CERT: pki.caCert, SONDE_CA_FILE: '/x' })).toThrow(/not both/);
    expect(() => readAgentConfig({ SONDE_CA_FILE: '/nonexistent/ca.crt' })).toThrow(/SONDE_CA_FILE \/nonexistent\/ca\.crt cannot be read: ENOENT/);
    expect(() => readAgentConfig({ SONDE_CA_FILE: '/x' }, () => 'junk')).toThrow(ConfigError);
  });

  it('refuses a CA file larger than the limit before reading it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sonde-ca-'));
    dirs.push(dir);
    const big = join(dir, 'big.crt');
    writeFileSync(big, Buffer.alloc(300 * 1024, 65));
    expect(() => readAgentConfig({ SONDE_CA_FILE: big })).toThrow(/larger than 256 KiB/);
  });
});

describe('SONDE_URL', () => {
  it('must be a ws:// or wss:// URL with a host, no credentials, of bounded length', () => {
    expect(() => readAgentConfig({ SONDE_URL: 'http://x' })).toThrow(/ws:\/\/ or wss:\/\//);
    expect(() => readAgentConfig({ SONDE_URL: 'wss://' })).toThrow(/SONDE_URL/);
    expect(() => readAgentConfig({ SONDE_URL: 'wss://user:pw@sonde:7070/v1/agents' })).toThrow(/must not carry credentials/);
    expect(() => readAgentConfig({ SONDE_URL: `wss://sonde/${'a'.repeat(3000)}` })).toThrow(/longer than 2048/);
    expect(readAgentConfig({ SONDE_URL: 'wss://sonde.sonde-system.svc:7070/v1/agents' }).url).toBe('wss://sonde.sonde-system.svc:7070/v1/agents');
  });
});

describe('the interrupt sampler addon inside the bundle', () => {
  it('is the bundle\'s own native/<platform>/abi<N>/ and never one found above it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sonde-bundle-layout-'));
    dirs.push(dir);
    // An app tree above the bundle holding the source layout: must not be picked up.
    mkdirSync(join(dir, 'agent/native/out/abi999'), { recursive: true });
    writeFileSync(join(dir, 'agent/native/out/abi999/sonde_sampler.node'), '');
    const bundle = join(dir, 'volume');
    mkdirSync(join(bundle, 'native/linux-x64-glibc/abi115'), { recursive: true });
    writeFileSync(join(bundle, 'native/linux-x64-glibc/abi115/sonde_sampler.node'), '');
    writeFileSync(join(bundle, BUNDLE_MANIFEST), '{}');
    expect(addonPath('115', bundle, 'linux-x64-glibc')).toBe(join(bundle, 'native/linux-x64-glibc/abi115/sonde_sampler.node'));
    expect(addonPath('999', bundle, 'linux-x64-glibc')).toBeUndefined();
    // Another platform or C library (arm64, Alpine's musl): none here, so V8's sampler.
    expect(addonPath('115', bundle, 'linux-x64-musl')).toBeUndefined();
    expect(addonPath('115', bundle, 'linux-arm64-glibc')).toBeUndefined();
    // Without the manifest (the source tree, dist/), the search goes up as before.
    expect(addonPath('999', join(dir, 'x'))).toBe(join(dir, 'agent/native/out/abi999/sonde_sampler.node'));
  });

  it('names this process\'s platform and C library from what it has mapped', () => {
    expect(platformKey()).toBe(`linux-${process.arch}-${/ld-musl-/.test(readFileSync('/proc/self/maps', 'utf8')) ? 'musl' : 'glibc'}`);
  });
});
