/**
 * The one rule for showing a frame's file, in every view (bars, tooltips, tables, the sandwich, the
 * status hotspots) and every export (issue 14: the tooltip showed an absolute path where the bars
 * showed a shortened one). Agents report files as the runtime names them (absolute paths, `file://`
 * URLs, `node:` modules) and, since Sonde 0.4, the root of their application (`hello.agent.root`).
 *
 * - A file inside an application root is shown relative to it: `src/server.js`. The app's own
 *   `node_modules` are inside its root, so they show as `node_modules/express/lib/router.js`.
 * - Frames of one tree may come from agents with different roots (two workloads, two layouts of one
 *   image): the longest root that contains the file wins, so `/app` and `/app/packages/api` give
 *   `/app/packages/api/src/x.js` as `src/x.js`. Roots are matched at a segment boundary (`/app` does
 *   not contain `/application/x.js`).
 * - Anything else (`node:` internals, the runtime's own files, other absolute paths, frames whose
 *   agent reported no root) keeps the fallback: views show its last two segments, exports keep the
 *   path as reported (an export is data a tool may resolve further; a view is read by a person).
 */

/** The roots the frames of a tree were reported under: one (or none) per agent. */
export type AppRoots = string | readonly string[];

/** Strips `file://` (ESM frames) so URLs and paths follow one rule; `%20` and the like are decoded, as the root is a path. */
function plainPath(file: string): string {
  if (!file.startsWith('file://')) return file;
  const path = file.slice('file://'.length);
  if (!path.includes('%')) return path;
  try {
    return decodeURIComponent(path);
  } catch {
    return path; // a malformed escape: shown as it came
  }
}

/** A root with exactly one trailing separator, or '' when it is no usable root. */
function asDir(root: string): string {
  if (!root) return '';
  return root.endsWith('/') || root.endsWith('\\') ? root : `${root}/`;
}

/**
 * The file relative to the longest root that contains it, or undefined when none does. A file equal
 * to a root (never a frame's file in practice) is not inside it.
 */
export function relativeToRoot(file: string, roots: AppRoots = []): string | undefined {
  const path = plainPath(file);
  let best = '';
  for (const root of typeof roots === 'string' ? [roots] : roots) {
    const dir = asDir(root);
    if (dir.length > best.length && path.length > dir.length && path.startsWith(dir)) best = dir;
  }
  return best ? path.slice(best.length) : undefined;
}

/** The file as a view shows it: relative to its app's root where known, else its last two segments. */
export function displayPath(file: string, roots: AppRoots = []): string {
  const relative = relativeToRoot(file, roots);
  if (relative !== undefined) return relative;
  return plainPath(file).split('/').filter(Boolean).slice(-2).join('/');
}

/** `file:line` (or `file`) as every view shows it. */
export function displayWhere(file: string, line: number, roots: AppRoots = []): string {
  if (!file) return '';
  const path = displayPath(file, roots);
  return line > 0 ? `${path}:${line}` : path;
}

/**
 * The file as an export writes it: relative to its app's root where known (pprof's `-source_path`
 * and `-trim_path` resolve relative names against a checkout), else exactly as the agent reported it.
 */
export function exportPath(file: string, roots: AppRoots = []): string {
  return relativeToRoot(file, roots) ?? file;
}
