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

/** The protocol's `Profiler.PositionTickInfo`: samples attributed to one source line. */
export interface CpuProfilePositionTick {
  /** 1-based. */
  line: number;
  ticks: number;
}

export interface CpuProfileNode {
  id: number;
  callFrame: CpuProfileCallFrame;
  hitCount?: number;
  children?: number[];
  /** Older profiles link upwards instead of (or as well as) downwards. */
  parent?: number;
  /**
   * Self samples by source line (`line` 1-based, unlike `callFrame`), as V8 writes them: where a node
   * has them, `callFrame.lineNumber` is the function's start, not a sampled line.
   */
  positionTicks?: CpuProfilePositionTick[];
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
