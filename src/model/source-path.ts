/**
 * The one rule for showing a frame's file in labels, tables, tooltips and the sandwich (issue 14: the
 * tooltip showed an absolute path where the bars showed a shortened one). Agents report files as the
 * runtime names them (absolute paths, `file://` URLs, `node:` modules). Shown: the path relative to
 * the application's root when it is known, else its last two segments. No agent reports its root
 * yet, so today every view shows the last two segments; `root` is where one plugs in.
 */
export function displayPath(file: string, root = ''): string {
  const path = file.startsWith('file://') ? file.slice('file://'.length) : file;
  const dir = root && !root.endsWith('/') ? `${root}/` : root;
  if (dir && path.startsWith(dir)) return path.slice(dir.length);
  return path.split('/').filter(Boolean).slice(-2).join('/');
}

/** `file:line` (or `file`) as every view shows it. */
export function displayWhere(file: string, line: number, root = ''): string {
  if (!file) return '';
  const path = displayPath(file, root);
  return line > 0 ? `${path}:${line}` : path;
}
