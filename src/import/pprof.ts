import { Profile } from 'pprof-format';
import { CallTreeBuilder } from '../model/call-tree-builder.js';
import type { CallTree } from '../model/call-tree.js';
import { FRAME_KINDS, type Frame, type FrameKind, makeFrame } from '../model/frame.js';
import { MAX_FUNCTION_LINE } from '../model/serialized.js';
import { WEIGHT_NAMES, type WeightName } from '../model/weights.js';
import { PPROF_KIND_TAG } from '../export/pprof.js';
import { inferFrameKind } from './frame-kind.js';

type Numeric = number | bigint;

/**
 * The parts of a decoded pprof Profile this importer reads. Structural on purpose: @datadog/pprof
 * loads pprof-format's CommonJS build, so its Profile is not the class this ESM module imports.
 */
export interface PprofProfileLike {
  sampleType: readonly { type: Numeric; unit: Numeric }[];
  sample: readonly { locationId: readonly Numeric[]; value: readonly Numeric[]; label: readonly PprofLabelLike[] }[];
  location: readonly PprofLocationLike[];
  function: readonly { id: Numeric; name: Numeric; systemName: Numeric; filename: Numeric; startLine: Numeric }[];
  stringTable: { strings: readonly string[] };
}

interface PprofLabelLike {
  key: Numeric;
  str: Numeric;
  num: Numeric;
}

interface PprofLocationLike {
  id: Numeric;
  address: Numeric;
  line: readonly { functionId: Numeric; line: Numeric; column: Numeric }[];
}

/** One sample as the filter and key callbacks see it. */
export interface PprofSampleView {
  /** Labels by key; numeric labels as numbers. Built only when a callback asks. */
  readonly labels: Readonly<Record<string, string | number>>;
  /** The sample's raw values, in the profile's sample-type order. */
  readonly values: readonly number[];
}

export interface PprofImportOptions {
  /**
   * Which value index holds each weight (-1: none). By default found from the sample types:
   * `samples`/`sample` (count), `wall`, `cpu` (any time unit, converted to µs).
   */
  valueIndex?: Partial<Record<WeightName, number>>;
  /** Keep only the samples this returns true for. */
  filter?: (sample: PprofSampleView) => boolean;
}

/** Reads a pprof Profile (decoded, or uncompressed protobuf bytes) into a call tree. */
export function pprofToTree(input: PprofProfileLike | Uint8Array, options: PprofImportOptions = {}): CallTree {
  const out = pprofToTrees(input, options.filter ? (s) => (options.filter!(s) ? '' : undefined) : () => '', options);
  return out.get('') ?? new CallTreeBuilder().build();
}

/**
 * Splits one profile into several trees in one pass: `key` names the tree each sample belongs to
 * (say, by its request-id label), or undefined to drop it. How an agent turns one sampler profile
 * into per-request trees.
 */
export function pprofToTrees(
  input: PprofProfileLike | Uint8Array,
  key: (sample: PprofSampleView) => string | undefined,
  options: Pick<PprofImportOptions, 'valueIndex'> = {},
): Map<string, CallTree> {
  const profile = input instanceof Uint8Array ? decode(input) : input;
  const strings = profile.stringTable.strings;
  const str = (i: number | bigint): string => strings[Number(i)] ?? '';
  const columns = valueColumns(profile, str, options.valueIndex);

  const functions = new Map<number, { name: string; systemName: string; file: string; startLine: number }>();
  for (const f of profile.function) {
    functions.set(Number(f.id), { name: str(f.name), systemName: str(f.systemName), file: str(f.filename), startLine: Number(f.startLine) });
  }
  const locations = new Map<number, PprofLocationLike>();
  for (const l of profile.location) locations.set(Number(l.id), l);

  const builders = new Map<string, { builder: CallTreeBuilder; frameIds: Map<number, number[]> }>();
  for (const sample of profile.sample) {
    const values = sample.value.map(Number);
    const w = { samples: 0, wallUs: 0, cpuUs: 0 };
    for (const c of columns) w[c.weight] += (values[c.index] ?? 0) * c.scale;
    if (w.samples === 0 && w.wallUs === 0 && w.cpuUs === 0) continue;
    let labels: Record<string, string | number> | undefined;
    const view: PprofSampleView = {
      values,
      get labels() {
        return (labels ??= labelsOf(sample.label, str));
      },
    };
    const k = key(view);
    if (k === undefined) continue;
    let target = builders.get(k);
    if (!target) {
      target = { builder: new CallTreeBuilder(), frameIds: new Map() };
      builders.set(k, target);
    }
    const { builder, frameIds } = target;
    let node = 0;
    // Locations are leaf first; within a location, lines are innermost (inlined) first.
    for (let li = sample.locationId.length - 1; li >= 0; li--) {
      const id = Number(sample.locationId[li]);
      let ids = frameIds.get(id);
      if (!ids) {
        ids = locationFrames(id, locations, functions).map((f) => builder.internFrame(f));
        frameIds.set(id, ids);
      }
      for (const f of ids) node = builder.child(node, f);
    }
    if (node === 0) continue; // a sample with no locations has nowhere to go
    builder.addSelf(node, w);
  }
  const trees = new Map<string, CallTree>();
  for (const [k, { builder }] of builders) trees.set(k, builder.build());
  return trees;
}

function decode(bytes: Uint8Array): PprofProfileLike {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) throw new RangeError('pprof: the data is gzipped; gunzip it first');
  try {
    return Profile.decode(bytes);
  } catch (err) {
    throw new RangeError(`pprof: cannot decode the profile (${(err as Error).message})`);
  }
}

interface Column {
  weight: WeightName;
  index: number;
  scale: number;
}

const TIME_SCALE_TO_US: Readonly<Record<string, number>> = { nanoseconds: 1e-3, microseconds: 1, milliseconds: 1e3, seconds: 1e6 };

function valueColumns(profile: PprofProfileLike, str: (i: number | bigint) => string, asked: Partial<Record<WeightName, number>> | undefined): Column[] {
  const types = profile.sampleType.map((t) => ({ type: str(t.type), unit: str(t.unit) }));
  const found: Partial<Record<WeightName, number>> = {};
  types.forEach((t, i) => {
    if ((t.type === 'samples' || t.type === 'sample') && found.samples === undefined) found.samples = i;
    else if (t.type === 'wall' && found.wallUs === undefined) found.wallUs = i;
    else if (t.type === 'cpu' && found.cpuUs === undefined) found.cpuUs = i;
  });
  const columns: Column[] = [];
  for (const weight of WEIGHT_NAMES) {
    const index = asked?.[weight] ?? found[weight] ?? -1;
    if (index < 0) continue;
    const t = types[index];
    if (!t) throw new RangeError(`pprof: value index ${index} for ${weight} is out of range (${types.length} sample types)`);
    let scale = 1;
    if (weight !== 'samples') {
      const s = TIME_SCALE_TO_US[t.unit];
      if (s === undefined) throw new RangeError(`pprof: sample type ${t.type}/${t.unit} is not a time, cannot be ${weight}`);
      scale = s;
    }
    columns.push({ weight, index, scale });
  }
  if (columns.length === 0) throw new RangeError(`pprof: no samples, wall or cpu sample type among ${types.map((t) => t.type).join(', ') || 'none'}`);
  return columns;
}

function labelsOf(labels: readonly PprofLabelLike[], str: (i: number | bigint) => string): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const l of labels) out[str(l.key)] = Number(l.str) !== 0 ? str(l.str) : Number(l.num);
  return out;
}

function locationFrames(
  id: number,
  locations: Map<number, PprofLocationLike>,
  functions: Map<number, { name: string; systemName: string; file: string; startLine: number }>,
): Frame[] {
  const loc = locations.get(id);
  if (!loc) throw new RangeError(`pprof: a sample refers to location ${id}, which the profile does not have`);
  if (loc.line.length === 0) {
    // An unsymbolised address: keep it visible rather than dropping its time.
    return [makeFrame(`0x${BigInt(loc.address).toString(16)}`, '', 0, 0, 'native')];
  }
  const frames: Frame[] = [];
  for (let k = loc.line.length - 1; k >= 0; k--) {
    const line = loc.line[k]!;
    const fn = functions.get(Number(line.functionId));
    if (!fn) throw new RangeError(`pprof: location ${id} refers to function ${Number(line.functionId)}, which the profile does not have`);
    const lineNo = Number(line.line) || fn.startLine;
    const kind = kindOf(fn);
    // pprof's Function.start_line is the function's own start: it becomes Frame.functionLine (a code frame's only).
    const start = kind === 'code' && fn.file !== '' && Number.isSafeInteger(fn.startLine) && fn.startLine >= 1 && fn.startLine <= MAX_FUNCTION_LINE ? fn.startLine : undefined;
    frames.push(makeFrame(fn.name, fn.file, lineNo > 0 ? lineNo : 0, Math.max(0, Number(line.column)), kind, undefined, start));
  }
  return frames;
}

function kindOf(fn: { name: string; systemName: string; file: string }): FrameKind {
  if (fn.systemName.startsWith(PPROF_KIND_TAG)) {
    const rest = fn.systemName.slice(PPROF_KIND_TAG.length);
    const colon = rest.indexOf(':');
    const kind = rest.slice(0, colon) as FrameKind;
    if (colon > 0 && FRAME_KINDS.includes(kind) && rest.slice(colon + 1) === fn.name) return kind;
  }
  return inferFrameKind(fn.name, fn.file);
}
