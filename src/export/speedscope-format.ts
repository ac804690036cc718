/**
 * The parts of speedscope's published file format Sonde writes and reads (types only). Source:
 * speedscope's `src/lib/file-format-spec.ts`; schema https://www.speedscope.app/file-format-schema.json.
 * Lines and columns are 1-based there, as in Sonde.
 */
export const SPEEDSCOPE_SCHEMA = 'https://www.speedscope.app/file-format-schema.json';

export type SpeedscopeUnit = 'none' | 'nanoseconds' | 'microseconds' | 'milliseconds' | 'seconds' | 'bytes';

export interface SpeedscopeFrame {
  name: string;
  file?: string;
  line?: number;
  col?: number;
}

export interface SpeedscopeSampledProfile {
  type: 'sampled';
  name: string;
  unit: SpeedscopeUnit;
  startValue: number;
  endValue: number;
  /** Stacks of indexes into `shared.frames`, root first. */
  samples: number[][];
  /** The weight of each stack; as long as `samples`. */
  weights: number[];
}

export interface SpeedscopeEvent {
  type: 'O' | 'C';
  at: number;
  frame: number;
}

export interface SpeedscopeEventedProfile {
  type: 'evented';
  name: string;
  unit: SpeedscopeUnit;
  startValue: number;
  endValue: number;
  events: SpeedscopeEvent[];
}

export interface SpeedscopeFile {
  $schema: typeof SPEEDSCOPE_SCHEMA;
  shared: { frames: SpeedscopeFrame[] };
  profiles: (SpeedscopeSampledProfile | SpeedscopeEventedProfile)[];
  name?: string;
  activeProfileIndex?: number;
  exporter?: string;
}
