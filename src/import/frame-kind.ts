import { type FrameKind, SYNTHETIC } from '../model/frame.js';

/** Names runtimes and profilers give to frames that are not code, and what kind each is. */
const KIND_BY_NAME: ReadonlyMap<string, FrameKind> = new Map<string, FrameKind>([
  // V8 (.cpuprofile, --cpu-prof, the inspector)
  ['(idle)', 'idle'],
  ['(garbage collector)', 'gc'],
  ['(program)', 'program'],
  // @datadog/pprof renames and groups V8's specials under "Node.js"
  ['Garbage Collection', 'gc'],
  ['Non JS threads activity', 'native'],
  // Sonde's own synthetic frames, so a round trip through a format without kinds keeps them apart
  ...Object.values(SYNTHETIC).map((f): [string, FrameKind] => [f.name, f.kind]),
]);

/**
 * The kind of a frame read from a format that does not carry kinds (collapsed stacks, speedscope,
 * pprof from other tools), guessed from its name and file. `nativeHint` is what the format says
 * about native code (V8's script id "0" with no URL), when it says anything.
 */
export function inferFrameKind(name: string, file: string, nativeHint = false): FrameKind {
  const known = KIND_BY_NAME.get(name);
  if (known) return known;
  if (nativeHint && !file) return 'native';
  return 'code';
}
