import { CallTreeBuilder } from '../model/call-tree-builder.js';
import type { CallTree } from '../model/call-tree.js';
import { makeFrame } from '../model/frame.js';
import type { WeightName } from '../model/weights.js';
import type { SpeedscopeEventedProfile, SpeedscopeFrame, SpeedscopeSampledProfile } from '../export/speedscope-format.js';
import { inferFrameKind } from './frame-kind.js';

export interface SpeedscopeImportOptions {
  /** Which profile of the file; default its activeProfileIndex, else 0. */
  profileIndex?: number;
  /** The weight the values become. Default: 'samples' for unit 'none', 'wallUs' for times. */
  weight?: WeightName;
}

const TO_US: Readonly<Record<string, number>> = { nanoseconds: 1e-3, microseconds: 1, milliseconds: 1e3, seconds: 1e6 };

/**
 * Reads a speedscope file (parsed JSON): its 'sampled' or 'evented' profile becomes a call tree.
 * Times convert to microseconds. Malformed input is a RangeError naming what is wrong.
 */
export function speedscopeToTree(file: unknown, options: SpeedscopeImportOptions = {}): CallTree {
  const f = file as { shared?: { frames?: unknown }; profiles?: unknown; activeProfileIndex?: unknown } | null;
  if (!f || typeof f !== 'object') throw new RangeError('speedscope: expected an object');
  const frameData = f.shared?.frames;
  if (!Array.isArray(frameData)) throw new RangeError('speedscope: shared.frames must be an array');
  if (!Array.isArray(f.profiles) || f.profiles.length === 0) throw new RangeError('speedscope: profiles must be a non-empty array');
  const index = options.profileIndex ?? (typeof f.activeProfileIndex === 'number' ? f.activeProfileIndex : 0);
  const profile = f.profiles[index] as SpeedscopeSampledProfile | SpeedscopeEventedProfile | undefined;
  if (!profile || typeof profile !== 'object') throw new RangeError(`speedscope: no profile ${index}`);

  const unit = profile.unit;
  let scale: number;
  let weight: WeightName;
  if (unit === 'none') {
    weight = options.weight ?? 'samples';
    scale = 1;
  } else if (TO_US[unit] !== undefined) {
    weight = options.weight ?? 'wallUs';
    scale = weight === 'samples' ? 1 : TO_US[unit]!;
  } else {
    throw new RangeError(`speedscope: unit ${JSON.stringify(unit)} is neither a count nor a time`);
  }

  const builder = new CallTreeBuilder();
  const frameIds: number[] = frameData.map((raw: unknown, i) => {
    const fr = raw as SpeedscopeFrame | null;
    if (!fr || typeof fr.name !== 'string') throw new RangeError(`speedscope: frame ${i} has no name`);
    const file = typeof fr.file === 'string' ? fr.file : '';
    const line = wholeOrZero(fr.line);
    return builder.internFrame(makeFrame(fr.name, file, line, wholeOrZero(fr.col), inferFrameKind(fr.name, file)));
  });
  const frameAt = (k: unknown, where: string): number => {
    const id = typeof k === 'number' ? frameIds[k] : undefined;
    if (id === undefined) throw new RangeError(`speedscope: ${where} refers to frame ${String(k)}, which shared.frames does not have`);
    return id;
  };
  const charge = (node: number, v: number): void => {
    if (node === 0 || v === 0) return;
    const x = v * scale;
    builder.addSelfValues(node, weight === 'samples' ? x : 0, weight === 'wallUs' ? x : 0, weight === 'cpuUs' ? x : 0);
  };

  if (profile.type === 'sampled') {
    const { samples, weights } = profile;
    if (!Array.isArray(samples) || !Array.isArray(weights) || samples.length !== weights.length) {
      throw new RangeError('speedscope: samples and weights must be arrays of the same length');
    }
    for (let s = 0; s < samples.length; s++) {
      const stack = samples[s];
      const w = weights[s];
      if (!Array.isArray(stack)) throw new RangeError(`speedscope: sample ${s} is not an array`);
      if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) throw new RangeError(`speedscope: sample ${s} has a bad weight ${String(w)}`);
      let node = 0;
      for (const k of stack) node = builder.child(node, frameAt(k, `sample ${s}`));
      charge(node, w);
    }
  } else if (profile.type === 'evented') {
    if (!Array.isArray(profile.events)) throw new RangeError('speedscope: events must be an array');
    // The time between two events belongs to the frame open on top of the stack.
    const open: number[] = [0];
    const openFrames: number[] = [];
    let last = typeof profile.startValue === 'number' ? profile.startValue : 0;
    profile.events.forEach((e, i) => {
      if (!e || typeof e.at !== 'number' || e.at < last) throw new RangeError(`speedscope: event ${i} is out of order or has no time`);
      charge(open[open.length - 1]!, e.at - last);
      last = e.at;
      const frame = frameAt(e.frame, `event ${i}`);
      if (e.type === 'O') {
        open.push(builder.child(open[open.length - 1]!, frame));
        openFrames.push(frame);
      } else if (e.type === 'C') {
        if (openFrames.pop() !== frame) throw new RangeError(`speedscope: event ${i} closes a frame that is not the innermost open one`);
        open.pop();
      } else throw new RangeError(`speedscope: event ${i} has unknown type ${JSON.stringify(e.type)}`);
    });
    if (openFrames.length) throw new RangeError(`speedscope: ${openFrames.length} frames are still open at the end`);
  } else {
    throw new RangeError(`speedscope: unknown profile type ${JSON.stringify((profile as { type?: unknown }).type)}`);
  }
  return builder.build();
}

function wholeOrZero(v: unknown): number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : 0;
}
