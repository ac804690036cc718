import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

/**
 * Builds the TypeScript service fixture (`test/e2e/fixtures/ts-service/server.ts`) the way users build
 * theirs: with tsc (a `.js.map` next to each file, or inline) or bundled by esbuild. Each returns the
 * compiled entry file.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TS_SERVICE = join(ROOT, 'test/e2e/fixtures/ts-service/server.ts');
/** A constant on the hot loop's first statement, found in the source and in every compiled form (esbuild drops comments). */
export const HOT_MARKER = '2654435761';

export function buildWithTsc(outDir: string, inline = false): string {
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  const args = [tsc, '--module', 'commonjs', '--target', 'es2022', '--strict', '--skipLibCheck', '--types', 'node', '--outDir', outDir, inline ? '--inlineSourceMap' : '--sourceMap', TS_SERVICE];
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsc failed: ${r.stdout}${r.stderr}`);
  return join(outDir, 'server.js');
}

export function buildWithEsbuild(outDir: string, sourcemap: 'external' | 'inline' | 'linked' = 'linked'): string {
  const outfile = join(outDir, 'server.js');
  buildSync({ entryPoints: [TS_SERVICE], bundle: true, platform: 'node', format: 'cjs', target: 'node20', sourcemap, outfile, logLevel: 'silent' });
  return outfile;
}

/** 1-based line and column where `marker`'s line starts its code (the first non-blank character). */
export function markerPosition(file: string, marker = HOT_MARKER): { line: number; column: number } {
  const lines = readFileSync(file, 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes(marker));
  if (i < 0) throw new Error(`${marker} not in ${file}`);
  return { line: i + 1, column: lines[i]!.search(/\S/) + 1 };
}
