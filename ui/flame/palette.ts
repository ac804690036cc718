import { interpolateRdBu } from 'd3-scale-chromatic';
import type { FrameKind } from '../../src/model/frame.js';

/**
 * Colours of flame-graph bars. A chart draws with a small palette of entries and one palette index per
 * node, so it can batch every bar of one colour into one canvas fill.
 */
export interface PaletteEntry {
  /** A CSS colour, or `hatch` for the striped fill of synthetic frames. */
  fill: string;
  text: string;
  italic?: boolean;
  /** Opacity of the bar (search misses fade back). */
  alpha?: number;
}

/** Where each kind's colours start in `KIND_PALETTE`. */
const CODE_HUES = 16;
const base: PaletteEntry[] = [];
const codeStart = base.length;
for (let i = 0; i < CODE_HUES; i++) {
  // Warm hues (red → amber), the classic flame look, kept soft so labels stay readable.
  const hue = 8 + (i * 38) / (CODE_HUES - 1);
  const light = 66 + ((i * 7) % 4) * 2;
  base.push({ fill: `hsl(${hue.toFixed(1)} 72% ${light}%)`, text: '#2a1a0f' });
}
const LIB_HUES = 6;
const libStart = base.length;
for (let i = 0; i < LIB_HUES; i++) {
  // Libraries and the runtime's own JavaScript: the same warm family, paler, so your code stands out.
  base.push({ fill: `hsl(${40 + i * 3} 46% ${79 + (i % 3) * 2}%)`, text: '#3a3020' });
}
const nativeStart = base.length;
for (let i = 0; i < 4; i++) base.push({ fill: `hsl(${186 + i * 6} 34% ${70 + i * 2}%)`, text: '#10292d' });
const runtimeStart = base.length;
base.push({ fill: 'hsl(262 30% 78%)', text: '#221a33' }, { fill: 'hsl(262 22% 84%)', text: '#221a33' });
const syntheticIdx = base.length;
base.push({ fill: 'hatch', text: '#4b5563', italic: true });
const rootIdx = base.length;
base.push({ fill: 'hsl(220 14% 86%)', text: '#1f2937' });

const HIGHLIGHT: PaletteEntry = { fill: 'hsl(292 62% 58%)', text: '#ffffff' };

/**
 * A palette that supports search: every colour, then its faded twin (for bars the search misses), then
 * the match colour. `dimmed(i, palette)` and `matchColor(palette)` index into it.
 */
export function searchable(entries: readonly PaletteEntry[]): readonly PaletteEntry[] {
  return [...entries, ...entries.map((e) => ({ ...e, alpha: 0.28 })), HIGHLIGHT];
}

/** Index of the faded twin of entry `idx` in a searchable palette. */
export function dimmed(idx: number, palette: readonly PaletteEntry[]): number {
  return idx + (palette.length - 1) / 2;
}

/** Index of the match colour in a searchable palette. */
export function matchColor(palette: readonly PaletteEntry[]): number {
  return palette.length - 1;
}

/** The palette of ordinary trees. */
export const KIND_PALETTE: readonly PaletteEntry[] = searchable(base);

/**
 * For bars too thin to tell hues apart: each colour's stand-in, one per kind, so neighbouring
 * sub-pixel bars of a kind merge into one rectangle (a 100,000-bar row becomes a few fills).
 */
export const KIND_TINY: Uint16Array = (() => {
  const rep = (i: number): number => {
    if (i >= codeStart && i < codeStart + CODE_HUES) return codeStart + 6;
    if (i >= libStart && i < libStart + LIB_HUES) return libStart + 1;
    if (i >= nativeStart && i < nativeStart + 4) return nativeStart;
    return i;
  };
  const n = base.length;
  const map = new Uint16Array(KIND_PALETTE.length);
  for (let i = 0; i < KIND_PALETTE.length; i++) map[i] = i < n ? rep(i) : i < 2 * n ? n + rep(i - n) : i;
  return map;
})();

/** Legend rows for ordinary trees. */
export const KIND_LEGEND: readonly { label: string; fill: string; title: string }[] = [
  { label: 'your code', fill: base[codeStart + 6]!.fill, title: 'Functions of the application' },
  { label: 'libraries · Node', fill: base[libStart + 1]!.fill, title: 'Code under node_modules/ or site-packages/, and the runtime\'s own JavaScript (node:…)' },
  { label: 'native', fill: base[nativeStart]!.fill, title: 'C++ builtins, addons and C extensions' },
  { label: 'GC / runtime', fill: base[runtimeStart]!.fill, title: 'Garbage collection and runtime work V8 cannot attribute to a function' },
  { label: 'waiting · blocked · pruned', fill: 'hatch', title: 'Synthetic frames Sonde adds: time the request waited on I/O or timers, time other work held the thread, and small subtrees folded together' },
  { label: 'search match', fill: HIGHLIGHT.fill, title: 'Frames whose name matches the search' },
];

/** A stable small hash of a string (FNV-1a), for colours that do not change between reloads. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** CPython's standard library (`/usr/lib/python3.11/json/…`) and its frozen modules (`<frozen importlib._bootstrap>`). */
const PYTHON_STDLIB = /\/lib\/python\d+(\.\d+)?\/|^<frozen /;

/** Whether a file belongs to a library or the runtime rather than to the application. */
export function isLibraryFile(file: string): boolean {
  return file.startsWith('node:') || file.includes('/node_modules/') || file.includes('/site-packages/') || file.includes('/dist-packages/') || file.startsWith('internal/') || PYTHON_STDLIB.test(file);
}

/** The palette index of a frame of this kind and name (and file, which tells libraries apart). */
export function kindColor(kind: FrameKind | 'root', name: string, file = ''): number {
  switch (kind) {
    case 'root':
      return rootIdx;
    case 'synthetic':
      return syntheticIdx;
    case 'native':
      return nativeStart + (hashString(name) % 4);
    case 'gc':
    case 'program':
    case 'idle':
      return runtimeStart + (kind === 'gc' ? 0 : 1);
    default:
      return isLibraryFile(file) ? libStart + (hashString(name) % LIB_HUES) : codeStart + (hashString(name) % CODE_HUES);
  }
}

// ───────────── differential trees ─────────────

/** Number of steps of the diverging scale on each side of "no change". */
export const DIFF_STEPS = 10;

/**
 * The diverging palette of differential flame graphs: ColorBrewer's red–blue, which stays apart for
 * the common colour-vision deficiencies. Index DIFF_STEPS is "no change"; above it, more in the new (or
 * slow) tree, in red; below it, less, in blue.
 */
export const DIFF_PALETTE: readonly PaletteEntry[] = searchable(
  (() => {
  const out: PaletteEntry[] = [];
  for (let i = 0; i <= 2 * DIFF_STEPS; i++) {
    // t: 0 = most blue (less), 0.5 = neutral, 1 = most red (more). RdBu runs red → blue, so flip it.
    const t = i / (2 * DIFF_STEPS);
    const strength = Math.abs(t - 0.5) * 2;
    const fill = i === DIFF_STEPS ? 'hsl(220 10% 88%)' : interpolateRdBu(1 - (0.5 + (t - 0.5) * 0.92));
    out.push({ fill, text: strength > 0.62 ? '#ffffff' : '#1f2937' });
  }
  return out;
  })(),
);

/** Diff palette index for a change in share, scaled so `maxAbs` reaches the ends. */
export function diffColor(delta: number, maxAbs: number): number {
  if (!(maxAbs > 0) || !Number.isFinite(delta)) return DIFF_STEPS;
  const r = Math.max(-1, Math.min(1, delta / maxAbs));
  // a square root keeps small but real changes visible next to one large one
  const s = Math.sign(r) * Math.sqrt(Math.abs(r));
  return DIFF_STEPS + Math.round(s * DIFF_STEPS);
}
