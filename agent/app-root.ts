import { existsSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, resolve, sep } from 'node:path';

/**
 * The application's root directory, sent in hello (`agent.root`, Sonde 0.4) so that views and exports
 * show `src/server.js` rather than `/srv/shop/releases/42/src/server.js` (src/model/source-path.ts).
 *
 * The rule (contract, round 3): the directory of the nearest `package.json` above the main module,
 * else the working directory. The main module's path is taken through realpath, because V8 names
 * CommonJS frames by their real path (Node resolves symlinks) and the root must prefix those names.
 * A main module inside `node_modules` (`node node_modules/.bin/next`, a process manager's launcher) is
 * a tool, not the app: the search then starts above the outermost `node_modules`, so the root is the
 * app's own directory, not the tool's package.
 */

/** What the search reads from the file system; injected so tests can give a tree of their own. */
export interface RootProbe {
  /** True when the path exists (a `package.json`). */
  exists(path: string): boolean;
  /** The real path of a file; may throw (a deleted or unreadable main module). */
  realpath(path: string): string;
}

const nodeProbe: RootProbe = { exists: existsSync, realpath: (p) => realpathSync(p) };

/** Directories climbed at most: far above any real layout, and a bound on a pathological path. */
const MAX_DEPTH = 64;

/**
 * Finds the root for a main module path (`process.argv[1]`) and a working directory. Never throws:
 * anything unreadable falls back to `cwd`.
 */
export function findAppRoot(mainPath: string | undefined, cwd: string, probe: RootProbe = nodeProbe): string {
  if (!mainPath) return cwd;
  let real: string;
  try {
    real = probe.realpath(isAbsolute(mainPath) ? mainPath : resolve(cwd, mainPath));
  } catch {
    return cwd;
  }
  let dir = dirname(real);
  const marker = `${sep}node_modules${sep}`;
  const inModules = `${dir}${sep}`.indexOf(marker);
  if (inModules >= 0) dir = inModules === 0 ? sep : dir.slice(0, inModules);
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    try {
      if (probe.exists(resolve(dir, 'package.json'))) return dir;
    } catch {
      return cwd;
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return cwd;
}

/** The root of this process: `SONDE_APP_ROOT` when given (already checked by config.ts), else found. */
export function processAppRoot(override: string | undefined): string {
  return override ?? findAppRoot(process.argv[1], process.cwd());
}
