// Builds the web UI into dist/ui/: typechecks ui/ (strict, DOM) and bundles it with esbuild.
// `node scripts/build-ui.mjs [--no-check] [--dev]`; the operator serves dist/ui/ at `/`.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'ui');
const args = new Set(process.argv.slice(2));

if (!args.has('--no-check')) {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', join(root, 'ui', 'tsconfig.json')], { stdio: 'inherit' });
  } catch {
    console.error('build-ui: the UI does not typecheck (see above)');
    process.exit(1);
  }
}

mkdirSync(out, { recursive: true });
const result = await build({
  entryPoints: [
    { in: join(root, 'ui', 'main.ts'), out: 'app' },
    { in: join(root, 'ui', 'app.css'), out: 'app' },
  ],
  bundle: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  minify: !args.has('--dev'),
  sourcemap: true,
  outdir: out,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});
copyFileSync(join(root, 'ui', 'index.html'), join(out, 'index.html'));

const bytes = Object.entries(result.metafile.outputs)
  .filter(([file]) => file.endsWith('.js') || file.endsWith('.css'))
  .map(([file, o]) => `${file.split('/').pop()} ${(o.bytes / 1024).toFixed(1)} KiB`);
console.log(`build-ui: dist/ui/ (${bytes.join(', ')})`);
