import { accessSync, constants, chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** The runtimes an agent bundle exists for. */
export const BUNDLE_RUNTIMES = ['node', 'python'] as const;
export type BundleRuntime = (typeof BUNDLE_RUNTIMES)[number];

/** A bundle that cannot be copied, with what to do about it. */
export class AgentBundleError extends Error {
  override name = 'AgentBundleError';
}

/** What was copied, for the command's one line of output. */
export interface CopyResult {
  /** The directory the runtime's files landed in (DIR, or DIR/python for Python). */
  target: string;
  files: number;
  bytes: number;
  /** How to load the agent from there, for people outside Kubernetes. */
  hint: string;
}

/** A bundle's files, relative, with sizes. Symbolic links and other special files are refused: a bundle is plain files. */
function listFiles(dir: string, base = dir): { path: string; bytes: number }[] {
  const files: { path: string; bytes: number }[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) files.push(...listFiles(p, base));
    else if (st.isFile()) files.push({ path: relative(base, p), bytes: st.size });
    else throw new AgentBundleError(`${p} is not a plain file; the bundle is damaged (run npm run build)`);
  }
  return files;
}

/**
 * Where a runtime's files go in DIR, per the injection contract: Node's at the top (`DIR/preload.cjs`,
 * what `NODE_OPTIONS=--require` names), Python's in `DIR/python/` (what `PYTHONPATH` names). A Python
 * bundle built with that folder already inside it is copied to the top as it is.
 */
function layout(runtime: BundleRuntime, source: string, dest: string): { target: string; entry: string } {
  if (runtime === 'node') {
    if (!existsSync(join(source, 'preload.cjs'))) throw new AgentBundleError(`${source} is not a Node agent bundle (no preload.cjs); run npm run build`);
    return { target: dest, entry: join(dest, 'preload.cjs') };
  }
  if (existsSync(join(source, 'sitecustomize.py'))) return { target: join(dest, 'python'), entry: join(dest, 'python') };
  if (existsSync(join(source, 'python', 'sitecustomize.py'))) return { target: dest, entry: join(dest, 'python') };
  throw new AgentBundleError(`${source} is not a Python agent bundle (no sitecustomize.py); run npm run build`);
}

/**
 * The real reason a directory could not be made: Node's recursive mkdir reports ENOENT where the
 * nearest existing ancestor is read-only or not writable; ask that ancestor.
 */
function realError(err: NodeJS.ErrnoException, dir: string): NodeJS.ErrnoException {
  if (err.code !== 'ENOENT') return err;
  let parent = dir;
  while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent);
  try {
    accessSync(parent, constants.W_OK);
    return err;
  } catch (e) {
    return e as NodeJS.ErrnoException;
  }
}

/** Why DIR cannot take the bundle, in words a person running an init container can act on. */
function explain(cause: NodeJS.ErrnoException, dir: string): string {
  const err = realError(cause, dir);
  const who = typeof process.getuid === 'function' ? ` by uid ${process.getuid()}` : '';
  switch (err.code) {
    case 'EACCES':
    case 'EPERM':
      return `${dir} is not writable${who} (permission denied): mount a writable volume there (an emptyDir)`;
    case 'EROFS':
      return `${dir} is on a read-only file system: mount a writable volume there (an emptyDir)`;
    case 'ENOTDIR':
    case 'EEXIST':
      return `${dir} is not a directory`;
    case 'ENOSPC':
      return `no space left on the device of ${dir}`;
    default:
      return `cannot write into ${dir}: ${err.message}`;
  }
}

/**
 * Copies the built agent bundle of `runtime` (`<dist>/agent-bundle/<runtime>/`) into `dir`: the init
 * container's one step in a pod, and how people outside Kubernetes get the agent. Needs no shell and no
 * root: only `dir` must be writable (a read-only root file system is fine). Each file is written beside
 * its final name and renamed over it, so a rerun (an init container restarted) never leaves a
 * half-written file, nor changes an addon under a process that has the old one loaded. Files are made
 * 0644 and folders 0755, so an app container running as any user can read them.
 */
export function copyAgentBundle(runtime: BundleRuntime, distDir: string, dir: string): CopyResult {
  const source = join(distDir, 'agent-bundle', runtime);
  if (!existsSync(source) || !statSync(source).isDirectory()) {
    throw new AgentBundleError(`the ${runtime} agent bundle is not built (${source} is missing)${runtime === 'python' ? '; this build of Sonde has no Python agent' : '; run npm run build'}`);
  }
  const dest = resolve(dir);
  if (dest === source || dest.startsWith(source + sep)) throw new AgentBundleError(`${dest} is inside the bundle it would copy`);
  const { target, entry } = layout(runtime, source, dest);
  const files = listFiles(source);
  if (files.length === 0) throw new AgentBundleError(`the ${runtime} agent bundle at ${source} is empty; run npm run build`);
  try {
    mkdirSync(target, { recursive: true, mode: 0o755 });
    accessSync(target, constants.W_OK);
  } catch (err) {
    throw new AgentBundleError(explain(err as NodeJS.ErrnoException, target));
  }
  let bytes = 0;
  for (const f of files) {
    const to = join(target, f.path);
    const tmp = `${to}.sonde-tmp-${process.pid}`;
    try {
      mkdirSync(join(to, '..'), { recursive: true, mode: 0o755 });
      copyFileSync(join(source, f.path), tmp);
      chmodSync(tmp, 0o644);
      renameSync(tmp, to);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw new AgentBundleError(explain(err as NodeJS.ErrnoException, target));
    }
    // What arrived is what was built: a short write (a full volume) must not pass for a bundle.
    if (statSync(to).size !== f.bytes) throw new AgentBundleError(`${to}: copied ${statSync(to).size} of ${f.bytes} bytes`);
    bytes += f.bytes;
  }
  const hint = runtime === 'node' ? `node --require ${entry} app.js` : `PYTHONPATH=${entry} python app.py`;
  return { target, files: files.length, bytes, hint };
}
