import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRD_PATH, renderCrdYaml } from './render.js';

/**
 * `npm run gen:crd`: writes the CRD YAML into the chart. Runs from dist/ (or anywhere inside the
 * repository), so it finds the root by walking up to Sonde's package.json.
 */
function repoRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'sonde') return dir;
    if (dirname(dir) === dir) throw new Error(`no sonde package.json above ${from}`);
  }
}

const target = resolve(repoRoot(dirname(fileURLToPath(import.meta.url))), CRD_PATH);
const text = renderCrdYaml();
const before = existsSync(target) ? readFileSync(target, 'utf8') : '';
writeFileSync(target, text);
process.stdout.write(`${before === text ? 'unchanged' : 'wrote'} ${target}\n`);
