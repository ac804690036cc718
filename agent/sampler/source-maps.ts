import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readBounded } from './read-bounded.js';
import { LoadedMap } from './source-map-sections.js';

/** Where a compiled position came from, as its source map says. Lines and columns 1-based. */
export interface OriginalPosition {
  file: string;
  line: number;
  column: number;
}

/** How much a resolver may read and keep: it runs inside users' processes. */
export interface SourceMapLimits {
  /** A compiled file larger than this is not read (an inline map counts with its file). */
  maxFileBytes: number;
  /** A `.map` file larger than this is not read. */
  maxMapBytes: number;
  /** Compiled files whose answer (a map or "none") is kept. */
  maxFiles: number;
  /** Sum of the kept maps' index sizes (their `mappings` string and 20 bytes per generated line). */
  maxMappingBytes: number;
}

export const DEFAULT_SOURCE_MAP_LIMITS: SourceMapLimits = Object.freeze({
  maxFileBytes: 32 * 1024 * 1024,
  maxMapBytes: 32 * 1024 * 1024,
  maxFiles: 1000,
  maxMappingBytes: 64 * 1024 * 1024,
});

const SCRIPT = /\.(?:c|m)?js$/;
const COMMENT = 'sourceMappingURL=';

/**
 * Resolves compiled JavaScript positions to their original source through the app's source maps, the
 * ones `node --enable-source-maps` would use: a `//# sourceMappingURL=` comment at the end of the file,
 * naming an inline `data:` map or a `.map` file, a regular map or an index map (`sections`). Each compiled file is read once and its answer kept
 * (least recently used first out, within `limits`); a file without a map, too big, unreadable or with a
 * broken map answers null every time after. Synchronous, because it runs while samples become frames,
 * and never throws: whatever is wrong with a map, the frame stays as the runtime reported it.
 */
export class SourceMapResolver {
  private readonly files = new Map<string, LoadedMap | null>();
  private mappingBytes = 0;

  constructor(private readonly limits: SourceMapLimits = DEFAULT_SOURCE_MAP_LIMITS) {}

  /** The original place of `file:line:column` (column 0: unknown), or null when no map says. */
  resolve(file: string, line: number, column: number): OriginalPosition | null {
    if (line <= 0 || !isAbsolute(file) || !SCRIPT.test(file)) return null;
    const loaded = this.lookup(file);
    if (loaded === null) return null;
    // With a column, the segment at or before it; without one (V8's sampler gives lines only), the
    // line's last. Only segments of that generated line count: none there, and the map says nothing.
    const at = loaded.find(line - 1, column > 0 ? column - 1 : -1);
    return at === null ? null : { file: at.file, line: at.line + 1, column: at.column + 1 };
  }

  /** How many compiled files have an answer kept (tests and logs). */
  get size(): number {
    return this.files.size;
  }

  private lookup(file: string): LoadedMap | null {
    const hit = this.files.get(file);
    if (hit !== undefined) {
      // Most recently used last, so eviction takes the oldest first.
      this.files.delete(file);
      this.files.set(file, hit);
      return hit;
    }
    let loaded: LoadedMap | null;
    try {
      loaded = this.load(file);
    } catch {
      loaded = null;
    }
    if (loaded !== null && loaded.bytes > this.limits.maxMappingBytes) loaded = null;
    this.files.set(file, loaded);
    if (loaded !== null) this.mappingBytes += loaded.bytes;
    for (const [k, v] of this.files) {
      if (this.files.size <= this.limits.maxFiles && this.mappingBytes <= this.limits.maxMappingBytes) break;
      this.files.delete(k);
      if (v !== null) this.mappingBytes -= v.bytes;
    }
    return loaded;
  }

  private load(file: string): LoadedMap | null {
    const code = readBounded(file, this.limits.maxFileBytes);
    if (code === null) return null;
    const url = mappingUrl(code);
    if (url === null) return null;
    let text: string;
    let base: string;
    if (url.startsWith('data:')) {
      text = decodeDataUrl(url);
      base = dirname(file);
    } else {
      let mapFile: string;
      if (url.startsWith('file:')) mapFile = fileURLToPath(url);
      else if (/^[a-z][a-z0-9+.-]*:/i.test(url)) return null; // http: and the like: never fetched
      else mapFile = resolve(dirname(file), decodeURIComponent(url));
      const mapBytes = readBounded(mapFile, this.limits.maxMapBytes);
      if (mapBytes === null) return null;
      text = mapBytes.toString('utf8');
      base = dirname(mapFile);
    }
    return LoadedMap.from(JSON.parse(text), base);
  }
}

/**
 * The URL of the last `//# sourceMappingURL=` comment, when nothing but whitespace follows its line.
 * Searches the bytes: decoding a whole bundle to text would cost more than the rest of the lookup.
 */
export function mappingUrl(code: Buffer | string): string | null {
  const buf = typeof code === 'string' ? Buffer.from(code) : code;
  const at = buf.lastIndexOf(COMMENT);
  if (at < 3 || !/\/\/[#@][ \t]?$/.test(buf.toString('latin1', Math.max(0, at - 4), at))) return null;
  const end = buf.indexOf(10, at);
  const url = buf.toString('utf8', at + COMMENT.length, end < 0 ? buf.length : end).trim();
  // Only whitespace may follow the comment's line: a string elsewhere in the code that merely contains it does not count.
  if (end >= 0 && buf.toString('latin1', end).trim() !== '') return null;
  return url === '' || /\s/.test(url) ? null : url;
}

/** The JSON text of a `data:` URL (base64 or percent-encoded). */
function decodeDataUrl(url: string): string {
  const comma = url.indexOf(',');
  if (comma < 0) throw new Error('data URL without a comma');
  const meta = url.slice(5, comma);
  const body = url.slice(comma + 1);
  return meta.endsWith(';base64') ? Buffer.from(body, 'base64').toString('utf8') : decodeURIComponent(body);
}
