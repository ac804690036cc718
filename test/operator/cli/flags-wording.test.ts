import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { negativeValuesInline } from '../../../operator/cli-args.js';
import { parseSessionDocuments } from '../../../operator/standalone/session-documents.js';
import { CLI, missingBuild } from '../../e2e/processes.js';

const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH }, timeout: 20_000 });

/** What a user typing a wrong flag value reads: the flag's own check, one wording per flag kind. */
describe.skipIf(missingBuild())('flag values in the project\'s words', () => {
  it('a negative number is a value its flag judges, not Node\'s "ambiguous" advice', () => {
    const cases: [string[], string][] = [
      [['demo', '--requests', '-3'], 'sonde: --requests must be a whole number from 1 to 10000, got "-3"'],
      [['operator', '--standalone', '--port', '-1'], 'sonde: --port must be a port number from 0 to 65535, got "-1"'],
      [['operator', '--standalone', '-p', '-1'], 'sonde: --port must be a port number from 0 to 65535, got "-1"'],
      [['sample-traffic', '--target', 'http://127.0.0.1:1', '--concurrency', '-2'], 'sonde: --concurrency must be a whole number from 1 to 64, got "-2"'],
    ];
    for (const [args, message] of cases) {
      const r = run(...args);
      expect({ args, status: r.status, stderr: r.stderr.trim() }).toEqual({ args, status: 2, stderr: message });
    }
  });

  it('the demo, the operator and the sample app word a bad port the same way', () => {
    const said = [run('demo', '--port', '99999'), run('operator', '--standalone', '--port', '99999'), run('sample-app', '--port', '99999')].map((r) => [r.status, r.stderr.trim()]);
    expect(said).toEqual(Array(3).fill([2, 'sonde: --port must be a port number from 0 to 65535, got "99999"']));
  });
});

describe('negativeValuesInline', () => {
  it('joins a negative number to the flag before it, and leaves everything else alone', () => {
    expect(negativeValuesInline(['--requests', '-3', '-p', '-1', '--once', '--port', '80', '--', '--x', '-1'])).toEqual(['--requests=-3', '-p-1', '--once', '--port', '80', '--', '--x', '-1']);
    expect(negativeValuesInline(['--duration', '-', '-v'])).toEqual(['--duration', '-', '-v']);
  });
});

describe('a session file with a bad name', () => {
  it('reports its spec problems too, since the file will not apply', () => {
    const parsed = parseSessionDocuments(['apiVersion: sonde.dev/v1alpha1', 'kind: ProfilingSession', 'metadata: {name: Bad_Name}', 'spec: {requests: 0, duration: soon}', ''].join('\n'));
    expect(parsed.ok).toBe(false);
    const problems = parsed.ok ? [] : parsed.problems;
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/metadata\.name must be a lowercase DNS name, got "Bad_Name"/);
    expect(problems.slice(1).map((p) => p.replace(/^document at line \d+: /, '').split(':')[0]).sort()).toEqual(['spec.duration', 'spec.request', 'spec.requests']);
  });
});
