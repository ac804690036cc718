import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * No Docker engine runs here, so the image is checked statically: every file the Dockerfile copies from
 * the build context exists, the runtime is a current LTS, the entrypoint is a file `npm run build`
 * produces, and the runtime stage keeps no dev tooling.
 */
const root = join(import.meta.dirname, '..');
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const instructions = dockerfile
  .split('\n')
  .filter((l) => l.trim() && !l.trimStart().startsWith('#'))
  .map((l) => l.trim());

describe('Dockerfile', () => {
  it('copies only paths that exist in the build context', () => {
    const copies = instructions.filter((l) => l.startsWith('COPY ') && !l.includes('--from='));
    expect(copies.length).toBeGreaterThan(3);
    for (const copy of copies) {
      const sources = copy.split(/\s+/).slice(1, -1);
      for (const src of sources) expect(existsSync(join(root, src)), `${copy}: ${src} missing`).toBe(true);
    }
  });

  it('does not ignore what it copies', () => {
    const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
    for (const copy of instructions.filter((l) => l.startsWith('COPY ') && !l.includes('--from='))) {
      for (const src of copy.split(/\s+/).slice(1, -1)) expect(ignored, copy).not.toContain(src.replace(/\/$/, ''));
    }
  });

  it('runs on a current LTS and as a non-root user', () => {
    const froms = instructions.filter((l) => l.startsWith('FROM '));
    expect(froms.length).toBe(2);
    for (const from of froms) expect(from).toMatch(/node:(22|24)[-.]/);
    expect(instructions.some((l) => /^USER\s+(?!0\b|root\b)/.test(l))).toBe(true);
  });

  it('has an entrypoint that the build produces and that answers --help', async () => {
    const entry = instructions.find((l) => l.startsWith('ENTRYPOINT'))!;
    const args = JSON.parse(entry.slice('ENTRYPOINT'.length)) as string[];
    const script = args[1]!.replace(/^\/app\//, '');
    expect(existsSync(join(root, script)), `${script} — run npm run build first`).toBe(true);
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync(process.execPath, [join(root, script), '--help'], { encoding: 'utf8' });
    expect(out).toMatch(/operator/);
    expect(out).toMatch(/demo/);
  });

  it("ships the agent's interrupt sampler built for the image's Node (24: ABI 137)", () => {
    expect(instructions.some((l) => /^COPY --from=build \/src\/agent\/native\/out \.\/agent\/native\/out$/.test(l))).toBe(true);
    // What the build stage's `npm run build` makes for the image's runtime, as it does here.
    expect(existsSync(join(root, 'agent/native/out/abi137/sonde_sampler.node')), 'run npm run build first').toBe(true);
    expect(readFileSync(join(root, '.dockerignore'), 'utf8')).not.toMatch(/^agent\/native\/?$/m);
  });

  it('prunes dev dependencies before the runtime stage copies node_modules', () => {
    const prune = instructions.findIndex((l) => /npm prune --omit=dev/.test(l));
    const copyModules = instructions.findIndex((l) => /COPY --from=build .*node_modules/.test(l));
    expect(prune).toBeGreaterThan(-1);
    expect(copyModules).toBeGreaterThan(prune);
  });
});
