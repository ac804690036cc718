import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../operator/config.js';
import { checkClusterConfig } from '../../../operator/kube/cluster-config-check.js';
import { CLI, missingBuild } from '../../e2e/processes.js';

/**
 * `sonde operator` without a cluster: before, it retried forever against http://localhost:8080 with a
 * stack trace; now it says what is missing, how to run standalone, and exits 2. Real processes with
 * an empty HOME (no ~/.kube/config) and no KUBECONFIG.
 */
const home = mkdtempSync(join(tmpdir(), 'sonde-home-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [CLI, 'operator', '--port', '0', '--data', join(home, 'data'), ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: home, ...env }, timeout: 15_000 });

describe.skipIf(missingBuild())('sonde operator without a cluster', () => {
  it('says no cluster configuration was found, how to run standalone, and exits 2', () => {
    const r = run([]);
    expect(r.error, 'still running after 15 s').toBeUndefined();
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no cluster configuration found/);
    expect(r.stderr).toMatch(/sonde operator --standalone/);
    expect(r.stderr).not.toMatch(/skipTLSVerify|\n\s+at /);
    expect(r.stdout).toBe('');
  });

  it('names the flag or variable that named a missing kubeconfig', () => {
    const flag = run(['--kubeconfig', '/nonexistent']);
    expect(flag.status).toBe(2);
    expect(flag.stderr.trim()).toBe('sonde: --kubeconfig names /nonexistent, which does not exist');
    const env = run([], { KUBECONFIG: '/nonexistent/config' });
    expect(env.status).toBe(2);
    expect(env.stderr.trim()).toBe('sonde: KUBECONFIG names /nonexistent/config, which does not exist');
  });
});

describe('checkClusterConfig', () => {
  const base = { ...defaultConfig('/ui', '/'), mode: 'cluster' as const };
  it('accepts ~/.kube/config, an in-cluster ServiceAccount, or an existing --kubeconfig; standalone needs none', () => {
    const h = mkdtempSync(join(home, 'h-'));
    expect(() => checkClusterConfig(base, { argv: [], env: { HOME: h }, serviceAccountDir: join(h, 'sa') })).toThrow(/no cluster configuration found/);
    expect(() => checkClusterConfig({ ...base, mode: 'standalone' }, { argv: [], env: { HOME: h } })).not.toThrow();
    // In a pod: the service host variable and the token file, both.
    mkdirSync(join(h, 'sa'));
    writeFileSync(join(h, 'sa', 'token'), 'x');
    expect(() => checkClusterConfig(base, { argv: [], env: { HOME: h }, serviceAccountDir: join(h, 'sa') })).toThrow(/no cluster configuration found/);
    expect(() => checkClusterConfig(base, { argv: [], env: { HOME: h, KUBERNETES_SERVICE_HOST: '10.0.0.1' }, serviceAccountDir: join(h, 'sa') })).not.toThrow();
    mkdirSync(join(h, '.kube'));
    writeFileSync(join(h, '.kube', 'config'), 'apiVersion: v1\n');
    expect(() => checkClusterConfig(base, { argv: [], env: { HOME: h }, serviceAccountDir: join(h, 'none') })).not.toThrow();
    expect(() => checkClusterConfig({ ...base, kubeconfig: join(h, '.kube', 'config') }, { argv: ['--kubeconfig', 'x'], env: {} })).not.toThrow();
  });
});
