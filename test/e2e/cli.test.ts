import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, missingBuild } from './processes.js';

const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH }, timeout: 20_000 });

/** The `sonde` command's surface: help, version, and clear errors for bad flags (exit 2). */
describe.skipIf(missingBuild())('the sonde command', () => {
  it('prints help and its version', () => {
    const help = run('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/sonde operator \[--standalone\]/);
    expect(help.stdout).toMatch(/sonde demo/);
    const version = run('--version');
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('refuses unknown commands and bad flags with a message naming them', () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command "frobnicate"/],
      [['operator', '--standalone', '--prot', '1'], /Unknown option '--prot'/],
      [['operator', '--standalone', '--port', 'http'], /--port must be a port number.*"http"/],
      [['operator', '--standalone', '--host', '0.0.0.0'], /needs SONDE_TOKEN/],
      [['operator', '--sessions', 'x.yaml'], /--sessions is for standalone mode/],
      [['demo', '--requests', 'many'], /--requests must be a whole number/],
    ];
    for (const [args, message] of cases) {
      const r = run(...args);
      expect({ args, status: r.status }).toEqual({ args, status: 2 });
      expect(r.stderr).toMatch(message);
    }
  });

  it('fails clearly when a standalone sessions path does not exist', () => {
    const data = mkdtempSync(join(tmpdir(), 'sonde-cli-'));
    try {
      const r = run('operator', '--standalone', '--port', '0', '--data', data, '--sessions', '/nonexistent/sessions');
      expect(r.status).toBe(1);
      expect(r.stderr.trim()).toBe('sonde: --sessions /nonexistent/sessions: no such file or directory');
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });
});
