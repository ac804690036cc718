import type { CallTree } from '../model/call-tree.js';
import type { WeightName } from '../model/weights.js';

/** Options every exporter understands; each uses the ones its format can express. */
export interface ExportOptions {
  /** The weight to export where the format carries one value per sample. Default: see `exportWeight`. */
  weight?: WeightName;
  /** A name for the profile (speedscope shows it; others ignore it). */
  name?: string;
  /** The sampling interval, where the format records one (pprof period, cpuprofile spacing). */
  sampleIntervalUs?: number;
  /** When sampling started, in ms since the epoch (pprof time_nanos, cpuprofile startTime). */
  startTimeMs?: number;
}

/**
 * The weight an exporter uses when none is asked for: wall time if the tree has any (profiles read
 * best in time), else samples.
 */
export function exportWeight(tree: CallTree, asked?: WeightName): WeightName {
  if (asked) return asked;
  return tree.total.wallUs[0]! > 0 ? 'wallUs' : 'samples';
}
