import type { CallTree } from '../model/call-tree.js';
import type { AppRoots } from '../model/source-path.js';
import type { WeightName } from '../model/weights.js';

/** Options every exporter understands; each uses the ones its format can express. */
export interface ExportOptions {
  /** The weight to export where the format carries one value per sample. Default: see `exportWeight`. */
  weight?: WeightName;
  /** A name for the profile (speedscope shows it; others ignore it). */
  name?: string;
  /** The sampling interval, where the format records one (pprof period, cpuprofile spacing), for a tree whose samples carry no wall time. */
  sampleIntervalUs?: number;
  /** When sampling started, in ms since the epoch (pprof time_nanos, cpuprofile startTime). */
  startTimeMs?: number;
  /** The apps' roots (`hello.agent.root` of the agents that reported the tree): files inside one are written relative to it (source-path.ts). */
  roots?: AppRoots;
}

/**
 * The interval the tree's samples stand for, µs: its wall time over its samples (undefined without
 * either). Exports take their period from it, so that the period always agrees with the samples even
 * when a session's samples were not taken at the interval it asked (a V8 sampler shared with a coarser
 * session, an older agent).
 */
export function sampleIntervalOf(tree: CallTree): number | undefined {
  const samples = tree.total.samples[0]!;
  const wallUs = tree.total.wallUs[0]!;
  return samples > 0 && wallUs > 0 ? wallUs / samples : undefined;
}

/** An interval in µs as a duration the spec's units read: `10ms`, `2.5ms`. */
export function formatInterval(us: number): string {
  return `${Math.round(us / 100) / 10}ms`;
}

/**
 * The weight an exporter uses when none is asked for: wall time if the tree has any (profiles read
 * best in time), else samples.
 */
export function exportWeight(tree: CallTree, asked?: WeightName): WeightName {
  if (asked) return asked;
  return tree.total.wallUs[0]! > 0 ? 'wallUs' : 'samples';
}
