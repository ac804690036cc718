/**
 * Chrome DevTools' `.cpuprofile` (the V8 inspector's `Profiler.Profile`), types only. Lines and
 * columns are 0-based here, -1 when unknown; times are microseconds.
 */
export interface CpuProfileCallFrame {
  functionName: string;
  scriptId: string | number;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

export interface CpuProfileNode {
  id: number;
  callFrame: CpuProfileCallFrame;
  hitCount?: number;
  children?: number[];
  /** Older profiles link upwards instead of (or as well as) downwards. */
  parent?: number;
  /** Sonde's own field: the frame kind where it is not plain code. DevTools ignores unknown fields. */
  sondeKind?: string;
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  /** The node id of each sample, in time order. */
  samples?: number[];
  /** Microseconds from the previous sample (the first: from startTime). */
  timeDeltas?: number[];
}
