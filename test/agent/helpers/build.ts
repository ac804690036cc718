import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export const ROOT = new URL('../../../', import.meta.url).pathname;
export const DIST_AGENT = join(ROOT, 'dist/agent');

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/**
 * Child processes run the compiled agent (dist/), as a real deployment does. Build it when it is
 * missing or older than its sources. tsc emits even when another part of the tree has type errors.
 * The interrupt sampler's addons too (the script rebuilds only what is stale), strictly: a test that
 * silently fell back to V8's sampler would test the wrong thing.
 */
export function ensureAgentBuilt(): void {
  execFileSync(process.execPath, [join(ROOT, 'scripts/build-native.mjs'), '--strict'], { cwd: ROOT, stdio: 'pipe' });
  const marker = join(DIST_AGENT, 'index.js');
  const sources = Math.max(newest(join(ROOT, 'agent')), newest(join(ROOT, 'src')));
  if (existsSync(marker) && statSync(marker).mtimeMs >= sources) return;
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.json')], { cwd: ROOT, stdio: 'pipe' });
  } catch {
    // Type errors elsewhere in the tree still emit; the check below is what matters.
  }
  if (!existsSync(marker) || statSync(marker).mtimeMs < sources) throw new Error('could not build dist/agent (run npx tsc -p tsconfig.json)');
}

/**
 * The machine's own Node (20). Not `process.execPath`: npm and npx put node_modules/.bin first on the
 * PATH, and the node22 package installs a `node` there, so tests may themselves run on Node 22.
 */
export function systemNode(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '' || dir.includes('node_modules')) continue;
    const bin = join(dir, 'node');
    if (existsSync(bin)) return bin;
  }
  return process.execPath;
}

/** Node binaries the agent must work on. */
export const NODES: Record<string, string> = {
  '20': systemNode(),
  '22': join(ROOT, 'node_modules/node22/bin/node'),
  '24': join(ROOT, 'node_modules/node24/bin/node'),
};
