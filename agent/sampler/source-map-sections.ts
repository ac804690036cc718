import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SourceMapMappings } from './source-map-mappings.js';

const MAX_SOURCE_PATH = 4096;
/** An index map with more sections than this is not used: each costs an index of its own. */
export const MAX_SECTIONS = 4096;

/** Where a compiled position came from, 0-based, with its source as a path (or a URL kept as written). */
export interface MappedSource {
  file: string;
  line: number;
  column: number;
}

/** One regular map's part of a compiled file, from its 0-based offset on (a regular map: one section at 0:0). */
interface Section {
  line: number;
  column: number;
  mappings: SourceMapMappings;
  /** The section's sources as paths (relative ones resolved against the map's directory and sourceRoot), by index. */
  sources: (string | null)[];
}

/**
 * A compiled file's source map as the resolver keeps it: a regular map, or an index map (`sections`,
 * each a regular map from an offset on: what some bundlers write when they concatenate files) as its
 * sections in order. Only the indexes are kept, never `sourcesContent` or `names`.
 */
export class LoadedMap {
  /** Bytes the indexes hold, for the resolver's memory budget. */
  readonly bytes: number;

  private constructor(private readonly sections: Section[]) {
    this.bytes = sections.reduce((n, s) => n + s.mappings.bytes, 0);
  }

  /**
   * Reads a parsed map (version 3, regular or index). Null when it is not one this can use: another
   * version, fields missing or of the wrong type, sections out of order, nested index maps (ECMA-426
   * does not allow them), sections given by `url`, too many sections. Throws RangeError on malformed mappings.
   */
  static from(payload: unknown, base: string): LoadedMap | null {
    if (!isObject(payload) || payload.version !== 3) return null;
    if (!Array.isArray(payload.sections)) {
      const one = section(payload, base, 0, 0);
      return one === null ? null : new LoadedMap([one]);
    }
    if (payload.sections.length > MAX_SECTIONS) return null;
    const sections: Section[] = [];
    for (const entry of payload.sections as unknown[]) {
      if (!isObject(entry) || !isObject(entry.offset) || !isObject(entry.map) || entry.map.version !== 3 || 'sections' in entry.map) return null;
      const { line, column } = entry.offset;
      if (!Number.isInteger(line) || !Number.isInteger(column) || (line as number) < 0 || (column as number) < 0) return null;
      const prev = sections[sections.length - 1];
      if (prev && ((line as number) < prev.line || ((line as number) === prev.line && (column as number) < prev.column))) return null;
      const s = section(entry.map, base, line as number, column as number);
      if (s === null) return null;
      sections.push(s);
    }
    return sections.length === 0 ? null : new LoadedMap(sections);
  }

  /**
   * The original place of 0-based generated `line` and `column` (-1: unknown, then the line's last
   * mapping in the last section that starts on or before the line), or null when the map says nothing.
   */
  find(line: number, column: number): MappedSource | null {
    // The last section starting at or before the position (binary search: sections are in order).
    let lo = 0;
    let hi = this.sections.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.sections[mid]!;
      if (s.line < line || (s.line === line && (column < 0 || s.column <= column))) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (at < 0) return null;
    const s = this.sections[at]!;
    const hit = s.mappings.find(line - s.line, line === s.line && column >= 0 ? column - s.column : column);
    const file = hit === null ? null : (s.sources[hit.source] ?? null);
    return hit === null || file === null ? null : { file, line: hit.line, column: hit.column };
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function section(map: Record<string, unknown>, base: string, line: number, column: number): Section | null {
  if (typeof map.mappings !== 'string' || !Array.isArray(map.sources)) return null;
  const root = typeof map.sourceRoot === 'string' ? map.sourceRoot : '';
  const sources = (map.sources as unknown[]).map((s) => (typeof s === 'string' && s.length <= MAX_SOURCE_PATH ? sourcePath(base, root, s) : null));
  return { line, column, mappings: new SourceMapMappings(map.mappings), sources };
}

/** A map's source as a path: file URLs converted, relative ones resolved; other schemes kept as written. */
function sourcePath(base: string, root: string, source: string): string {
  const joined = root === '' ? source : root.endsWith('/') ? root + source : `${root}/${source}`;
  if (joined.startsWith('file:')) {
    try {
      return fileURLToPath(joined);
    } catch {
      return joined;
    }
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(joined)) return joined;
  return resolve(base, joined);
}
