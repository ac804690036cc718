import { Function as PprofFunction, Line, Location, Profile, Sample, StringTable, ValueType } from 'pprof-format';
import { byFunction } from '../model/by-function.js';
import type { CallTree } from '../model/call-tree.js';
import type { Frame } from '../model/frame.js';
import { type AppRoots, exportPath } from '../model/source-path.js';
import { sampleIntervalOf } from './options.js';

export interface PprofExportOptions {
  /** Sampling interval for a tree without wall time; otherwise the period is the one its samples stand for. */
  sampleIntervalUs?: number;
  /** When sampling started (ms since the epoch); becomes time_nanos. */
  startTimeMs?: number;
  /** How long sampling lasted (ms); becomes duration_nanos. */
  durationMs?: number;
  /** Files inside one of these roots get a relative `filename`, which `go tool pprof -source_path DIR` (or `-trim_path`) resolves. */
  roots?: AppRoots;
}

/**
 * Frame kinds travel in Function.system_name as `sonde:<kind>:<name>` for every kind but code, whose
 * system name is its name. pprof displays `name`; its demangler leaves a function alone when the two
 * differ, so the tag is invisible to `go tool pprof` and lets `pprofToTree` restore the kind.
 */
export const PPROF_KIND_TAG = 'sonde:';

/** The sample types, in value order: what `pprofToTree` looks for by name. */
export const PPROF_SAMPLE_TYPES = [
  ['samples', 'count'],
  ['wall', 'nanoseconds'],
  ['cpu', 'nanoseconds'],
] as const;

/**
 * The tree as a pprof Profile: one Sample per node with self weight, its locations leaf first (as
 * pprof requires), values [samples, wall ns, cpu ns]. One Location per frame and one Function per
 * function (its lines merged), synthetic frames included.
 */
export function treeToProfile(tree: CallTree, options: PprofExportOptions = {}): Profile {
  const strings = new StringTable();
  const functions: PprofFunction[] = [];
  const locations: Location[] = [];
  /** Location id per frame index, 0 until the frame is first used (ids start at 1). */
  const locationOf = new Int32Array(tree.frames.length);
  /**
   * One Function per function (src/model/by-function.ts), one Location per frame: the lines of one
   * function are its Location's `Line` entries, so pprof's tables list it once and `-list` its lines.
   */
  const byFn = byFunction(tree);
  const functionOf = byFn.functionOf;
  const functionIdOf = new Map<number, number>();
  const functionId = (frameIndex: number): number => {
    const group = functionOf[frameIndex]!;
    let id = functionIdOf.get(group);
    if (id === undefined) {
      id = functions.length + 1;
      functionIdOf.set(group, id);
      const frame = tree.frames[frameIndex]!;
      functions.push(
        new PprofFunction({
          id,
          name: strings.dedup(frame.name),
          systemName: strings.dedup(systemName(frame)),
          filename: strings.dedup(exportPath(frame.file, options.roots)),
          startLine: byFn.tree.frames[group]!.line,
        }),
      );
    }
    return id;
  };
  const location = (frameIndex: number): number => {
    let id = locationOf[frameIndex]!;
    if (id === 0) {
      id = locations.length + 1;
      locationOf[frameIndex] = id;
      const frame = tree.frames[frameIndex]!;
      locations.push(new Location({ id, line: [new Line({ functionId: functionId(frameIndex), line: frame.line, column: frame.column })] }));
    }
    return id;
  };

  const sampleType = PPROF_SAMPLE_TYPES.map(([type, unit]) => new ValueType({ type: strings.dedup(type), unit: strings.dedup(unit) }));
  const samples: Sample[] = [];
  const { samples: sc, wallUs, cpuUs } = tree.self;
  for (let i = 1; i < tree.size; i++) {
    if (sc[i] === 0 && wallUs[i] === 0 && cpuUs[i] === 0) continue;
    const locationId: number[] = [];
    for (let v = i; v > 0; v = tree.parents[v]!) locationId.push(location(tree.frameIds[v]!));
    samples.push(new Sample({ locationId, value: [Math.round(sc[i]!), Math.round(wallUs[i]! * 1000), Math.round(cpuUs[i]! * 1000)] }));
  }

  const interval = sampleIntervalOf(tree) ?? options.sampleIntervalUs;
  return new Profile({
    sampleType,
    sample: samples,
    location: locations,
    function: functions,
    stringTable: strings,
    // Milliseconds since the epoch times a million overflows a double's exact range: use BigInt.
    timeNanos: options.startTimeMs !== undefined ? BigInt(Math.round(options.startTimeMs)) * 1_000_000n : 0,
    durationNanos: options.durationMs !== undefined ? BigInt(Math.round(options.durationMs * 1_000_000)) : 0,
    periodType: new ValueType({ type: strings.dedup('wall'), unit: strings.dedup('nanoseconds') }),
    period: interval !== undefined ? Math.round(interval * 1000) : 0,
    defaultSampleType: strings.dedup(tree.total.wallUs[0]! > 0 ? 'wall' : 'samples'),
  });
}

/** The tree as an uncompressed pprof protobuf; gzip it for `.pb.gz` (pprof tools read both). */
export function treeToPprof(tree: CallTree, options: PprofExportOptions = {}): Uint8Array {
  return treeToProfile(tree, options).encode();
}

function systemName(frame: Frame): string {
  return frame.kind === 'code' ? frame.name : `${PPROF_KIND_TAG}${frame.kind}:${frame.name}`;
}
