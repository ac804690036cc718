import type { CallTree } from '../model/call-tree.js';
import type { Frame } from '../model/frame.js';
import { type AppRoots, relativeToRoot } from '../model/source-path.js';
import type { WeightName } from '../model/weights.js';

export interface CollapsedExportOptions {
  /** The count on each line. Default 'samples'; times are whole microseconds. */
  weight?: WeightName;
  /** How a frame is written; default `foldedLabel`. */
  label?: (frame: Frame) => string;
  /** The apps' roots (`hello.agent.root` of the agents that reported the tree): files inside one are written relative to it (source-path.ts). */
  roots?: AppRoots;
}

/**
 * A frame's name in folded stacks. ';' separates frames and a newline ends a line, so both are
 * replaced (';' by ':', line breaks by a space). Anonymous functions take their place's name, as
 * V8's tools show them, so that every "(anonymous)" does not fold into one.
 */
export function foldedLabel(frame: Frame, roots?: AppRoots): string {
  let name = frame.name;
  if (name === '(anonymous)' && frame.file) {
    // Inside an app's root, the path from it (source-path.ts); elsewhere the file's base name, as before.
    const base = relativeToRoot(frame.file, roots) ?? frame.file.slice(frame.file.lastIndexOf('/') + 1);
    name = frame.line > 0 ? `(anonymous ${base}:${frame.line})` : `(anonymous ${base})`;
  }
  return name.replace(/;/g, ':').replace(/[\r\n]+/g, ' ');
}

/**
 * Brendan Gregg's folded stacks: one line `root;…;leaf count` per node with self weight, root first.
 * Lines follow the tree's node order; the counts of a line sum to its node's self weight.
 */
export function treeToCollapsed(tree: CallTree, options: CollapsedExportOptions = {}): string {
  const weight = options.weight ?? 'samples';
  const label = options.label ?? ((f: Frame) => foldedLabel(f, options.roots));
  const self = tree.self[weight];
  const frameLabels = tree.frames.map((f) => label(f));
  // Paths share their prefixes: V8 keeps concatenations as ropes, so this costs little per node.
  const paths = new Array<string>(tree.size);
  paths[0] = '';
  const lines: string[] = [];
  for (let i = 1; i < tree.size; i++) {
    const p = tree.parents[i]!;
    const name = frameLabels[tree.frameIds[i]!]!;
    paths[i] = p === 0 ? name : `${paths[p]};${name}`;
    const count = Math.round(self[i]!);
    if (count > 0) lines.push(`${paths[i]} ${count}`);
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}
