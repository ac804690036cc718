import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AgentBundleError, BUNDLE_RUNTIMES, type BundleRuntime, copyAgentBundle } from './copy-agent-bundle.js';

/** `sonde agent-bundle --help`. */
export const AGENT_BUNDLE_HELP = `sonde agent-bundle — copy the in-process agent into a directory

Usage:
  sonde agent-bundle [--runtime node|python] DIR

Copies the self-contained agent (built by npm run build into dist/agent-bundle/<runtime>/) into DIR,
creating it if needed. In a cluster this is the injected init container's only step (DIR is the shared
emptyDir, /sonde/agent); it needs no shell and no root, only a writable DIR. Outside Kubernetes it is
how you get the agent:

  sonde agent-bundle /opt/sonde-agent
  SONDE_URL=ws://127.0.0.1:7070/v1/agents node --require /opt/sonde-agent/preload.cjs app.js

Options:
  --runtime node|python   which agent (default node); Python's lands in DIR/python, for PYTHONPATH
  -h, --help              this text

Exit codes: 0 copied; 1 the bundle is missing or DIR cannot take it; 2 bad arguments.`;

/** The dist/ directory this command belongs to (dist/operator/agent-bundle/ → dist/). */
function distDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/** Runs `sonde agent-bundle`; resolves with the exit code. `dist` is for tests (default: the running build). */
export function runAgentBundle(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr, dist: string = distDir()): number {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { runtime: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    err.write(`sonde agent-bundle: ${(e as Error).message}\nRun \`sonde agent-bundle --help\` for usage.\n`);
    return 2;
  }
  if (parsed.values.help) {
    out.write(AGENT_BUNDLE_HELP + '\n');
    return 0;
  }
  const runtime = parsed.values.runtime ?? 'node';
  if (!(BUNDLE_RUNTIMES as readonly string[]).includes(runtime)) {
    err.write(`sonde agent-bundle: --runtime must be node or python, got ${JSON.stringify(runtime)}\n`);
    return 2;
  }
  if (parsed.positionals.length !== 1 || parsed.positionals[0]!.trim() === '') {
    err.write(`sonde agent-bundle: give exactly one DIR (got ${parsed.positionals.length})\nRun \`sonde agent-bundle --help\` for usage.\n`);
    return 2;
  }
  try {
    const r = copyAgentBundle(runtime as BundleRuntime, dist, parsed.positionals[0]!);
    out.write(`sonde agent-bundle: copied the ${runtime} agent into ${r.target} (${r.files} files, ${(r.bytes / 1024 / 1024).toFixed(1)} MiB); load it with: ${r.hint}\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof AgentBundleError)) throw e;
    err.write(`sonde agent-bundle: ${e.message}\n`);
    return 1;
  }
}
