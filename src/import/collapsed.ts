import { CallTreeBuilder } from '../model/call-tree-builder.js';
import type { CallTree } from '../model/call-tree.js';
import { makeFrame } from '../model/frame.js';
import type { WeightName } from '../model/weights.js';
import { inferFrameKind } from './frame-kind.js';

export interface CollapsedImportOptions {
  /** The weight the counts are. Default 'samples'. */
  weight?: WeightName;
}

/**
 * Reads folded stacks (`a;b;c 12` per line). Frames carry names only; blank lines and `#` comments
 * are skipped; anything else that is not `stack count` is a RangeError naming the line.
 */
export function collapsedToTree(text: string, options: CollapsedImportOptions = {}): CallTree {
  const weight = options.weight ?? 'samples';
  const builder = new CallTreeBuilder();
  const frameIds = new Map<string, number>();
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    const countText = line.slice(space + 1);
    const count = Number(countText);
    if (space <= 0 || countText === '' || !Number.isFinite(count) || count < 0) {
      throw new RangeError(`collapsed: line ${n + 1}: expected "frame;frame;… count", got ${JSON.stringify(line.slice(0, 80))}`);
    }
    let node = 0;
    for (const name of line.slice(0, space).split(';')) {
      if (name === '') throw new RangeError(`collapsed: line ${n + 1}: empty frame name`);
      let f = frameIds.get(name);
      if (f === undefined) {
        f = builder.internFrame(makeFrame(name, '', 0, 0, inferFrameKind(name, '')));
        frameIds.set(name, f);
      }
      node = builder.child(node, f);
    }
    if (count > 0) builder.addSelfValues(node, weight === 'samples' ? count : 0, weight === 'wallUs' ? count : 0, weight === 'cpuUs' ? count : 0);
  }
  return builder.build();
}
