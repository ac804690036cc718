import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isLabelKey, isLabelValue } from '../../src/session/labels.js';
import { ROOT } from '../e2e/processes.js';
import { PYTHON } from './harness.js';

/**
 * SONDE_LABELS in the Python agent (`agent/python/sonde_agent/config.py`) must accept exactly the label
 * keys and values Kubernetes does, as `src/session/labels.ts` does for the operator and the Node agent:
 * the same keys and values go through both, in the real /usr/bin/python3, from the agent's source.
 */
const SOURCE = join(ROOT, 'agent/python');

function python(code: string, input: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(PYTHON, ['-c', code], { input, env: { PATH: process.env.PATH, PYTHONPATH: SOURCE, PYTHONDONTWRITEBYTECODE: '1' }, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const label = (n: number, c = 'a'): string => c.repeat(n);
const subdomain = (n: number): string => {
  // Dot-separated lowercase labels of at most 63 characters, `n` characters in all.
  const parts: string[] = [];
  let left = n;
  while (left > 0) {
    const take = Math.min(63, left === 64 ? 62 : left);
    parts.push(label(take, 'b'));
    left -= take + 1;
  }
  const s = parts.join('.');
  return s.length === n ? s : s.slice(0, n).replace(/\.$/, 'c');
};

const KEYS = [
  'app',
  'app.kubernetes.io/name',
  'example.com/tier',
  `${subdomain(253)}/x`, // the longest prefix Kubernetes takes
  `${subdomain(254)}/x`, // one character more
  `${subdomain(300)}/x`,
  `${label(63)}`,
  `${label(64)}`,
  `p/${label(63)}`,
  `p/${label(64)}`,
  `${subdomain(253)}/${label(63)}`,
  '',
  '/x',
  'x/',
  'a/b/c',
  'Example.com/x', // prefixes are lowercase
  '-x',
  'x-',
  'x_y.z-1',
  '_x',
  'a..b/x',
  'a.-b/x',
  '.a/x',
  'app\n',
  'app\u00e9',
  'a b',
  label(10_000),
];
const VALUES = ['', 'shop', 'a.b_c-d', label(63), label(64), '-x', 'x-', 'x\n', 'caf\u00e9', label(10_000)];

describe('Python agent: SONDE_LABELS keys and values as Kubernetes and the operator take them', () => {
  it('accepts and refuses the same keys and values as src/session/labels.ts', () => {
    const r = python(
      `import sys, json
from sonde_agent.config import is_label_key, is_label_value
data = json.load(sys.stdin)
print(json.dumps({"keys": [is_label_key(k) for k in data["keys"]], "values": [is_label_value(v) for v in data["values"]]}))`,
      JSON.stringify({ keys: KEYS, values: VALUES }),
    );
    expect(r.stderr).toBe('');
    const got = JSON.parse(r.stdout) as { keys: boolean[]; values: boolean[] };
    const byKey = (list: string[], verdicts: boolean[]) => list.map((k, i) => [k.length > 40 ? `${k.slice(0, 20)}…(${k.length})` : k, verdicts[i]]);
    expect(byKey(KEYS, got.keys)).toEqual(byKey(KEYS, KEYS.map(isLabelKey)));
    expect(byKey(VALUES, got.values)).toEqual(byKey(VALUES, VALUES.map(isLabelValue)));
    // The bound this test exists for: a 253-character DNS prefix is a key, 254 is not.
    expect(isLabelKey(KEYS[3]!)).toBe(true);
    expect(isLabelKey(KEYS[4]!)).toBe(false);
    expect(KEYS[3]!.indexOf('/')).toBe(253);
    expect(KEYS[4]!.indexOf('/')).toBe(254);
  });

  it('refuses a key with a 254-character prefix in SONDE_LABELS, naming the variable and the rule, quoting at most 80 characters', () => {
    const r = python(
      `import sys
from sonde_agent.config import read_config, ConfigError
try:
    read_config({"SONDE_URL": "ws://127.0.0.1:1/v1/agents", "POD_NAME": "p", "SONDE_LABELS": "app=shop," + sys.stdin.read() + "=web"})
except ConfigError as e:
    print(e)
    sys.exit(3)`,
      `${subdomain(254)}/tier`,
    );
    expect(r.status).toBe(3);
    expect(r.stdout).toMatch(/^SONDE_LABELS: "[b.]{80}… \(259 characters\)" is not a valid label key: an optional DNS subdomain prefix of at most 253 characters/);
    const ok = python(
      `import sys, json
from sonde_agent.config import read_config
print(json.dumps(read_config({"SONDE_URL": "ws://127.0.0.1:1/v1/agents", "POD_NAME": "p", "SONDE_LABELS": "app=shop," + sys.stdin.read() + "=web"}).labels))`,
      `${subdomain(253)}/tier`,
    );
    expect(ok.stderr).toBe('');
    expect(Object.keys(JSON.parse(ok.stdout) as Record<string, string>)).toEqual(['app', `${subdomain(253)}/tier`]);
  });
});
