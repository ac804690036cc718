import { readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The import rules of ARCHITECTURE.md, checked on every source file:
 * - agent/, operator/ and ui/ import only from src/ and their own folder (never sideways);
 * - src/ imports only from itself, never a Node built-in, and no npm package but the allow-list, so
 *   it runs in the browser.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PARTS = ['agent', 'operator', 'ui', 'src'] as const;
type Part = (typeof PARTS)[number];
/** npm packages src/ may import: pure JavaScript that runs in a browser. */
const SRC_ALLOWED_PACKAGES = new Set(['pprof-format']);
const SOURCE = /\.(ts|tsx|mts|cts|js|mjs|cjs)$/;
const BUILTINS = new Set(builtinModules.flatMap((m) => [m, m.split('/')[0]!]));

interface SourceFile {
  /** Path relative to the repository root, with forward slashes. */
  path: string;
  text: string;
}

/** Every module specifier a file imports: static, type-only, re-exports, dynamic import() and require(). */
function specifiers(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

function partOf(path: string): Part | 'other' {
  const top = path.split('/')[0] as Part;
  return PARTS.includes(top) ? top : 'other';
}

/** The rule each import of each file breaks, if any, as `file: import → why`. */
function violations(files: readonly SourceFile[]): string[] {
  const out: string[] = [];
  for (const file of files) {
    const from = partOf(file.path);
    if (from === 'other') continue;
    for (const spec of specifiers(file.text)) {
      const problem = check(from, file.path, spec);
      if (problem) out.push(`${file.path}: ${spec} → ${problem}`);
    }
  }
  return out;
}

function check(from: Part, path: string, spec: string): string | undefined {
  if (spec.startsWith('.') || spec.startsWith('/')) {
    const target = relative(ROOT, resolve(ROOT, dirname(path), spec)).split('\\').join('/');
    const to = partOf(target);
    if (target.startsWith('..')) return 'reaches outside the repository';
    if (from === 'src') return to === 'src' ? undefined : `src/ imports ${to === 'other' ? target : `${to}/`}; src/ must stand alone`;
    if (to === from || to === 'src') return undefined;
    return `${from}/ imports ${to === 'other' ? target : `${to}/`}; imports flow only into src/`;
  }
  if (from !== 'src') return undefined;
  if (spec.startsWith('node:') || BUILTINS.has(spec) || BUILTINS.has(spec.split('/')[0]!)) return 'a Node built-in in src/, which must run in the browser';
  const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
  if (!SRC_ALLOWED_PACKAGES.has(pkg)) return `npm package ${pkg} in src/ (allowed: ${[...SRC_ALLOWED_PACKAGES].join(', ')})`;
  return undefined;
}

function sourceFiles(dir: string): SourceFile[] {
  const out: SourceFile[] = [];
  const walk = (d: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      return; // a part that does not exist yet has nothing to break
    }
    for (const name of entries) {
      if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (SOURCE.test(name) && !name.endsWith('.d.ts')) out.push({ path: relative(ROOT, full).split('\\').join('/'), text: readFileSync(full, 'utf8') });
    }
  };
  walk(dir);
  return out;
}

describe('architecture: import rules', () => {
  it('holds for every source file of agent/, operator/, ui/ and src/', () => {
    const files = PARTS.flatMap((p) => sourceFiles(join(ROOT, p)));
    expect(files.filter((f) => f.path.startsWith('src/')).length).toBeGreaterThan(10);
    expect(violations(files)).toEqual([]);
  });

  it('catches sideways imports between agent/, operator/ and ui/', () => {
    const v = violations([
      { path: 'operator/hub/x.ts', text: "import { a } from '../../agent/sampler.js';" },
      { path: 'agent/y.ts', text: "import type { B } from '../operator/store/contracts.js';" },
      { path: 'ui/z.ts', text: "export { c } from '../operator/api/server.js';\nconst m = await import('../agent/index.js');" },
      { path: 'operator/ok.ts', text: "import { mergeTrees } from '../src/model/merge.js';\nimport { x } from './local.js';\nimport fastify from 'fastify';" },
    ]);
    expect(v).toHaveLength(4);
    expect(v[0]).toMatch(/^operator\/hub\/x.ts: .*operator\/ imports agent\//);
    expect(v[1]).toMatch(/^agent\/y.ts: .*agent\/ imports operator\//);
    expect(v.filter((s) => s.startsWith('ui/z.ts'))).toHaveLength(2);
  });

  it('catches Node built-ins, npm packages and outside imports in src/, but allows pprof-format', () => {
    const v = violations([
      { path: 'src/a.ts', text: "import { readFileSync } from 'node:fs';" },
      { path: 'src/b.ts', text: "import zlib from 'zlib';" },
      { path: 'src/c.ts', text: "const p = require('path/posix');" },
      { path: 'src/d.ts', text: "import pino from 'pino';" },
      { path: 'src/e.ts', text: "import { x } from '@kubernetes/client-node';" },
      { path: 'src/f.ts', text: "import { y } from '../operator/store/contracts.js';" },
      { path: 'src/g.ts', text: "import { Profile } from 'pprof-format';\nimport { z } from './model/frame.js';\n// import fs from 'node:fs' in a comment is not an import" },
    ]);
    expect(v.map((s) => s.split(':')[0])).toEqual(['src/a.ts', 'src/b.ts', 'src/c.ts', 'src/d.ts', 'src/e.ts', 'src/f.ts']);
  });
});
