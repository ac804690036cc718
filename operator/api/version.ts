import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Sonde's version, from the package.json above this file (source tree or dist/): for /api/v1/info and --version. */
export function readVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'sonde' && pkg.version) return pkg.version;
    } catch {
      /* not here: look one level up */
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}
