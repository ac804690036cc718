// What the agent benchmarks need to know about the machine: whether CPUs can be pinned, and where
// each Node.js version under test lives.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Whether `taskset` can pin processes to a CPU here. */
export const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return true;
  } catch {
    return false;
  }
})();

/** The node binary for `20`, `22`, `24`, or the path given. */
export function nodeBinary(v) {
  if (v === '22' || v === '24') return join(ROOT, `node_modules/node${v}/bin/node`);
  if (v !== '20') return v; // a path
  // The machine's own node, not one from a node_modules/.bin on PATH.
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && !dir.includes('node_modules') && existsSync(join(dir, 'node'))) return join(dir, 'node');
  }
  return process.execPath;
}
