import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

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
  /** Sum of the kept maps' `mappings` lengths, the bulk of a parsed map's memory. */
  maxMappingBytes: number;
}

export const DEFAULT_SOURCE_MAP_LIMITS: SourceMapLimits = Object.freeze({
  maxFileBytes: 32 * 1024 * 1024,
  maxMapBytes: 32 * 1024 * 1024,
  maxFiles: 1000,
  maxMappingBytes: 64 * 1024 * 1024,
});

const SCRIPT = /\.(?:c|m)?js$/;
const MAX_SOURCE_PATH = 4096;
const COMMENT = 'sourceMappingURL=';

interface LoadedMap {
  map: SourceMap;
  /** The map's sources as paths (relative ones resolved against the map's directory and sourceRoot). */
  sources: Map<string, string>;
  bytes: number;
}

/**
 * Resolves compiled JavaScript positions to their original source through the app's source maps, the
 * ones `node --enable-source-maps` would use: a `//# sourceMappingURL=` comment at the end of the file,
 * naming an inline `data:` map or a `.map` file. Each compiled file is read once and its answer kept
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
    try {
      const l = line - 1;
      // With a column, the mapping at or before it; without one (V8's sampler gives lines only), the
      // line's last mapping. Either must lie on that generated line, or the map says nothing about it.
      let e = loaded.map.findEntry(l, column > 0 ? column - 1 : 1e9) as Partial<Entry>;
      if (e.generatedLine !== l && column > 0) e = loaded.map.findEntry(l, 1e9) as Partial<Entry>;
      if (e.generatedLine !== l || typeof e.originalSource !== 'string' || typeof e.originalLine !== 'number') return null;
      const source = loaded.sources.get(e.originalSource);
      if (source === undefined) return null;
      return { file: source, line: e.originalLine + 1, column: (e.originalColumn ?? 0) + 1 };
    } catch {
      return null;
    }
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
      const mapText = readBounded(mapFile, this.limits.maxMapBytes);
      if (mapText === null) return null;
      text = mapText;
      base = dirname(mapFile);
    }
    const payload = JSON.parse(text) as Partial<SourceMapPayload>;
    if (!payload || typeof payload !== 'object' || payload.version !== 3) return null;
    if (typeof payload.mappings !== 'string' || !Array.isArray(payload.sources)) return null;
    const root = typeof payload.sourceRoot === 'string' ? payload.sourceRoot : '';
    const sources = new Map<string, string>();
    for (const s of payload.sources) {
      if (typeof s !== 'string' || s.length > MAX_SOURCE_PATH) continue;
      sources.set(s, sourcePath(base, root, s));
    }
    const map = new SourceMap({
      version: 3,
      file: typeof payload.file === 'string' ? payload.file : '',
      sources: payload.sources.map((s) => (typeof s === 'string' ? s : '')),
      sourcesContent: [],
      names: Array.isArray(payload.names) ? payload.names.filter((n) => typeof n === 'string') : [],
      mappings: payload.mappings,
      sourceRoot: '',
    });
    return { map, sources, bytes: payload.mappings.length };
  }
}

interface Entry {
  generatedLine: number;
  generatedColumn: number;
  originalSource: string;
  originalLine: number;
  originalColumn: number;
}

/** A file's text if it is a regular file no larger than `max` bytes; null otherwise. */
function readBounded(path: string, max: number): string | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > max) return null;
    const buf = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, buf, off, st.size - off, off);
      if (n <= 0) break;
      off += n;
    }
    return buf.toString('utf8', 0, off);
  } finally {
    closeSync(fd);
  }
}

/** The URL of the last `//# sourceMappingURL=` comment, when it is on the file's last non-empty lines. */
export function mappingUrl(code: string): string | null {
  const at = code.lastIndexOf(COMMENT);
  if (at < 3 || !/\/\/[#@][ \t]?$/.test(code.slice(Math.max(0, at - 4), at))) return null;
  const end = code.indexOf('\n', at);
  const url = code.slice(at + COMMENT.length, end < 0 ? code.length : end).trim();
  // Only whitespace may follow the comment's line: a string elsewhere in the code that merely contains it does not count.
  if (end >= 0 && code.slice(end).trim() !== '') return null;
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
