/** One mapping of a generated position: the index of its source in the map's `sources`, and its 0-based place there. */
export interface MappedPosition {
  source: number;
  line: number;
  column: number;
}

const BASE64 = (() => {
  const t = new Int8Array(128).fill(-1);
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = i;
  return t;
})();
const SEMICOLON = 59;
const COMMA = 44;

/**
 * A source map's `mappings` (version 3, base64 VLQ), indexed by generated line and decoded a line at a
 * time. Node's own SourceMap decodes every segment up front into objects: for an 8 MiB bundle's map that
 * is about a second on the app's thread and ~100 MiB of heap. This keeps the string and, per generated
 * line, where it starts and the running source, line and column there (the VLQ deltas carry across
 * lines): one pass over the string, 20 bytes per line, then each lookup decodes one line.
 */
export class SourceMapMappings {
  private readonly starts: Int32Array;
  private readonly source: Int32Array;
  private readonly origLine: Int32Array;
  private readonly origColumn: Int32Array;

  /** Throws a RangeError on a malformed string (a character outside base64, a value too long). */
  constructor(private readonly mappings: string) {
    let lines = 1;
    for (let i = 0; i < mappings.length; i++) if (mappings.charCodeAt(i) === SEMICOLON) lines++;
    this.starts = new Int32Array(lines + 1);
    this.source = new Int32Array(lines);
    this.origLine = new Int32Array(lines);
    this.origColumn = new Int32Array(lines);
    // Integer arithmetic only (values are kept below 2^30): this loop runs once per character.
    let src = 0;
    let ol = 0;
    let oc = 0;
    let line = 0;
    let field = 0;
    let value = 0;
    let shift = 0;
    const n = mappings.length;
    for (let i = 0; i < n; i++) {
      const c = mappings.charCodeAt(i);
      if (c === SEMICOLON || c === COMMA) {
        if (shift !== 0) throw new RangeError('source map: a value ends in the middle');
        field = 0;
        if (c === SEMICOLON) {
          line++;
          this.starts[line] = i + 1;
          this.source[line] = src;
          this.origLine[line] = ol;
          this.origColumn[line] = oc;
        }
        continue;
      }
      const d = c < 128 ? BASE64[c]! : -1;
      if (d < 0) throw new RangeError(`source map: bad character at ${i}`);
      value |= (d & 31) << shift;
      if ((d & 32) !== 0) {
        shift += 5;
        if (shift > 25) throw new RangeError('source map: a value is too long');
        continue;
      }
      const v = (value & 1) !== 0 ? -(value >>> 1) : value >>> 1;
      if (field === 1) src += v;
      else if (field === 2) ol += v;
      else if (field === 3) oc += v;
      field++;
      value = 0;
      shift = 0;
    }
    if (shift !== 0) throw new RangeError('source map: the last value ends in the middle');
    this.starts[lines] = mappings.length + 1;
  }

  /** Generated lines the map covers. */
  get lines(): number {
    return this.source.length;
  }

  /** Bytes this index holds (the string and its per-line arrays), for the resolver's memory budget. */
  get bytes(): number {
    return this.mappings.length + this.source.length * 20;
  }

  /**
   * The mapping for 0-based generated `line` at 0-based `column`: the last segment of that line starting
   * at or before the column; with column < 0 (unknown), or before the line's first segment, the line's
   * last segment. Null when the line has no segment or that segment has no source.
   */
  find(line: number, column: number): MappedPosition | null {
    if (!Number.isInteger(line) || line < 0 || line >= this.source.length) return null;
    const end = this.starts[line + 1]! - 1;
    let src = this.source[line]!;
    let ol = this.origLine[line]!;
    let oc = this.origColumn[line]!;
    let gc = 0;
    let field = 0;
    let value = 0;
    let shift = 0;
    // The chosen segment's fields (-1: none yet); `lastFields` those of the line's last segment.
    let bestFields = -1;
    let bs = 0, bl = 0, bc = 0;
    let lastFields = -1;
    let ls = 0, ll = 0, lc = 0;
    for (let i = this.starts[line]!; i <= end; i++) {
      const c = i < end ? this.mappings.charCodeAt(i) : COMMA;
      if (c === COMMA) {
        if (field > 0) {
          lastFields = field;
          ls = src;
          ll = ol;
          lc = oc;
          if (column >= 0 && gc <= column) {
            bestFields = field;
            bs = src;
            bl = ol;
            bc = oc;
          }
        }
        field = 0;
        continue;
      }
      const d = BASE64[c]!;
      value |= (d & 31) << shift;
      if ((d & 32) !== 0) {
        shift += 5;
        continue;
      }
      const v = (value & 1) !== 0 ? -(value >>> 1) : value >>> 1;
      if (field === 0) gc += v;
      else if (field === 1) src += v;
      else if (field === 2) ol += v;
      else if (field === 3) oc += v;
      field++;
      value = 0;
      shift = 0;
    }
    const hit = bestFields >= 0 ? { fields: bestFields, source: bs, line: bl, column: bc } : { fields: lastFields, source: ls, line: ll, column: lc };
    return hit.fields >= 4 && hit.source >= 0 && hit.line >= 0 && hit.column >= 0 ? { source: hit.source, line: hit.line, column: hit.column } : null;
  }
}
