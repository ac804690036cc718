import type { CallTree } from '../model/call-tree.js';
import { type AppRoots, exportPath } from '../model/source-path.js';
import type { WeightName } from '../model/weights.js';
import { exportWeight } from './options.js';
import { SPEEDSCOPE_SCHEMA, type SpeedscopeFile, type SpeedscopeFrame } from './speedscope-format.js';

export interface SpeedscopeExportOptions {
  /** Default: wall time if the tree has any, else samples. */
  weight?: WeightName;
  name?: string;
  /** The apps' roots (`hello.agent.root` of the agents that reported the tree): files inside one are written relative to it (source-path.ts). */
  roots?: AppRoots;
}

/** Identifies the writer in the file, as the format suggests. */
export const SPEEDSCOPE_EXPORTER = 'sonde';

/**
 * The tree as a speedscope file with one 'sampled' profile: one stack per node with self weight,
 * weighted by that self weight, in microseconds for times and unit 'none' for sample counts.
 * Frame kinds have no place in the format; speedscope's importer-side guess is `inferFrameKind`.
 */
export function treeToSpeedscope(tree: CallTree, options: SpeedscopeExportOptions = {}): SpeedscopeFile {
  const weight = exportWeight(tree, options.weight);
  const self = tree.self[weight];
  const frames: SpeedscopeFrame[] = [];
  const indexOf = new Int32Array(tree.frames.length).fill(-1);
  const samples: number[][] = [];
  const weights: number[] = [];
  const stack: number[] = [];
  for (let i = 1; i < tree.size; i++) {
    const w = self[i]!;
    if (!(w > 0)) continue;
    stack.length = 0;
    for (let v = i; v > 0; v = tree.parents[v]!) {
      const f = tree.frameIds[v]!;
      let k = indexOf[f]!;
      if (k < 0) {
        k = frames.length;
        indexOf[f] = k;
        const fr = tree.frames[f]!;
        const out: SpeedscopeFrame = { name: fr.name };
        if (fr.file) out.file = exportPath(fr.file, options.roots);
        if (fr.line > 0) out.line = fr.line;
        if (fr.column > 0) out.col = fr.column;
        frames.push(out);
      }
      stack.push(k);
    }
    samples.push(stack.slice().reverse());
    weights.push(w);
  }
  const name = options.name ?? 'Sonde profile';
  const total = tree.total[weight][0]!;
  return {
    $schema: SPEEDSCOPE_SCHEMA,
    shared: { frames },
    profiles: [{ type: 'sampled', name, unit: weight === 'samples' ? 'none' : 'microseconds', startValue: 0, endValue: total, samples, weights }],
    name,
    activeProfileIndex: 0,
    exporter: SPEEDSCOPE_EXPORTER,
  };
}
