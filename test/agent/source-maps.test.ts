import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceMap } from 'node:module';
import { AnyMap, eachMapping } from '@jridgewell/trace-mapping';
import { MAX_SECTIONS } from '../../agent/sampler/source-map-sections.js';
import { FrameCache } from '../../agent/sampler/profile-samples.js';
import { SourceMapMappings } from '../../agent/sampler/source-map-mappings.js';
import { DEFAULT_SOURCE_MAP_LIMITS, mappingUrl, SourceMapResolver } from '../../agent/sampler/source-maps.js';
import { buildWithEsbuild, buildWithTsc, HOT_MARKER, markerPosition, TS_SERVICE } from '../harness/ts-service-build.js';

// Real builds of a real TypeScript file (tsc and esbuild, as users run them), then the resolver on the
// compiled positions: it must land on the TypeScript line, whatever the map's form.
let dir: string;
const builds: Record<string, string> = {};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sonde-srcmap-'));
  const out = (name: string): string => {
    const d = join(dir, name);
    mkdirSync(d);
    return d;
  };
  builds['tsc, .js.map file'] = buildWithTsc(out('tsc'));
  builds['tsc, inline map'] = buildWithTsc(out('tsc-inline'), true);
  builds['esbuild bundle, .js.map file'] = buildWithEsbuild(out('esbuild'));
  builds['esbuild bundle, inline map'] = buildWithEsbuild(out('esbuild-inline'), 'inline');
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SourceMapResolver', () => {
  const ts = markerPosition(TS_SERVICE);

  for (const name of ['tsc, .js.map file', 'tsc, inline map', 'esbuild bundle, .js.map file', 'esbuild bundle, inline map']) {
    it(`maps the hot line of a ${name} build to the TypeScript file and line`, () => {
      const js = builds[name]!;
      const at = markerPosition(js);
      expect(at.line).not.toBe(ts.line); // the compiled line differs: a resolver doing nothing would fail
      const r = new SourceMapResolver();
      expect(r.resolve(js, at.line, at.column)).toEqual({ file: TS_SERVICE, line: ts.line, column: ts.column });
      // V8's sampler gives no column: the line alone still lands on the TypeScript line.
      expect(r.resolve(js, at.line, 0)?.line).toBe(ts.line);
      expect(r.resolve(js, at.line, 0)?.file).toBe(TS_SERVICE);
    });
  }

  it('answers null, without throwing, for files without a map, broken maps, remote maps and lines no map covers', () => {
    const d = join(dir, 'bad');
    mkdirSync(d);
    const write = (name: string, text: string): string => {
      writeFileSync(join(d, name), text);
      return join(d, name);
    };
    const r = new SourceMapResolver();
    expect(r.resolve(write('plain.js', 'function f() {}\n'), 1, 1)).toBeNull();
    expect(r.resolve(write('broken.js', 'f();\n//# sourceMappingURL=broken.js.map\n'), 1, 1)).toBeNull();
    write('broken.js.map', '{"version":3,"sources":["a.ts"],');
    expect(r.resolve(write('broken2.js', 'f();\n//# sourceMappingURL=broken.js.map\n'), 1, 1)).toBeNull();
    write('v2.js.map', JSON.stringify({ version: 2, sources: ['a.ts'], mappings: 'AAAA' }));
    expect(r.resolve(write('v2.js', 'f();\n//# sourceMappingURL=v2.js.map\n'), 1, 1)).toBeNull();
    expect(r.resolve(write('remote.js', 'f();\n//# sourceMappingURL=https://example.com/remote.js.map\n'), 1, 1)).toBeNull();
    expect(r.resolve(write('baddata.js', 'f();\n//# sourceMappingURL=data:application/json;base64,!!!!\n'), 1, 1)).toBeNull();
    expect(r.resolve(write('dir.js', 'f();\n//# sourceMappingURL=.\n'), 1, 1)).toBeNull();
    // A FIFO no one writes to: opening it blocking would hang the app's thread for good.
    execFileSync('mkfifo', [join(d, 'fifo.js.map')]);
    expect(r.resolve(write('fifo.js', 'f();\n//# sourceMappingURL=fifo.js.map\n'), 1, 1)).toBeNull();
    expect(r.resolve(write('dev.js', 'f();\n//# sourceMappingURL=/dev/zero\n'), 1, 1)).toBeNull();
    write('ok.js.map', JSON.stringify({ version: 3, sources: ['ok.ts'], names: [], mappings: 'AAAA' }));
    const ok = write('ok.js', 'f();\n\n\n//# sourceMappingURL=ok.js.map\n');
    expect(r.resolve(ok, 1, 1)).toEqual({ file: join(d, 'ok.ts'), line: 1, column: 1 });
    expect(r.resolve(ok, 3, 1)).toBeNull(); // no mapping on that line: not the previous line's
    expect(r.resolve('/nonexistent/x.js', 1, 1)).toBeNull();
    expect(r.resolve('node:internal/timers', 1, 1)).toBeNull();
    expect(r.resolve('relative.js', 1, 1)).toBeNull();
  });

  it('reads no file over its size limit and keeps at most maxFiles answers', () => {
    const js = builds['esbuild bundle, inline map']!;
    const at = markerPosition(js);
    const small = new SourceMapResolver({ ...DEFAULT_SOURCE_MAP_LIMITS, maxFileBytes: 1000 });
    expect(small.resolve(js, at.line, at.column)).toBeNull();
    const tiny = new SourceMapResolver({ ...DEFAULT_SOURCE_MAP_LIMITS, maxMappingBytes: 10 });
    expect(tiny.resolve(js, at.line, at.column)).toBeNull();
    const few = new SourceMapResolver({ ...DEFAULT_SOURCE_MAP_LIMITS, maxFiles: 2 });
    for (const js of Object.values(builds)) few.resolve(js, 1, 0);
    expect(few.size).toBe(2);
    // An evicted file is read again on demand, with the same answer.
    const tscJs = builds['tsc, .js.map file']!;
    expect(few.resolve(tscJs, markerPosition(tscJs).line, 0)?.line).toBe(markerPosition(TS_SERVICE).line);
  });

  it('finds the comment only where it ends the file', () => {
    expect(mappingUrl('x();\n//# sourceMappingURL=a.js.map\n')).toBe('a.js.map');
    expect(mappingUrl('x();\n//@ sourceMappingURL=a.js.map')).toBe('a.js.map');
    expect(mappingUrl('const s = "//# sourceMappingURL=a.js.map";\nx();\n')).toBeNull();
    expect(mappingUrl('x(); // sourceMappingURL=a.js.map\n')).toBeNull();
  });
});

describe('SourceMapMappings', () => {
  it('finds what Node\'s own SourceMap finds, at every position of a real bundle\'s map', () => {
    const js = builds['esbuild bundle, .js.map file']!;
    const payload = JSON.parse(readFileSync(`${js}.map`, 'utf8'));
    const node = new SourceMap(payload);
    const ours = new SourceMapMappings(payload.mappings);
    const lines = readFileSync(js, 'utf8').split('\n');
    let compared = 0;
    for (let l = 0; l < lines.length; l++) {
      for (let c = 0; c <= lines[l]!.length; c++) {
        const e = node.findEntry(l, c) as { generatedLine?: number; originalSource?: string; originalLine?: number; originalColumn?: number };
        if (e.generatedLine !== l) continue; // before the line's first segment: Node answers from an earlier line, we do not
        const got = ours.find(l, c);
        expect(got && { source: payload.sources[got.source], line: got.line, column: got.column }).toEqual({ source: e.originalSource, line: e.originalLine, column: e.originalColumn });
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(500);
  });

  it('refuses malformed mappings', () => {
    expect(() => new SourceMapMappings('AA!A')).toThrow(/bad character/);
    expect(() => new SourceMapMappings('AAAg')).toThrow(/middle/);
    expect(() => new SourceMapMappings('ggggggA')).toThrow(/too long/);
    expect(new SourceMapMappings('').find(0, 0)).toBeNull();
    expect(new SourceMapMappings('A').find(0, 0)).toBeNull(); // a segment with no source
    expect(new SourceMapMappings('AAAA').find(1, 0)).toBeNull();
  });
});

describe('FrameCache with source maps', () => {
  it('gives compiled frames their original place, says they were mapped, and keeps one Frame per original place', () => {
    const js = builds['tsc, .js.map file']!;
    const at = markerPosition(js);
    const ts = markerPosition(TS_SERVICE);
    const cache = new FrameCache(() => false, 50_000, new SourceMapResolver());
    const f = cache.get('priceOrders', js, at.line, at.column)!;
    expect(f).toMatchObject({ name: 'priceOrders', file: TS_SERVICE, line: ts.line, column: 0, kind: 'code', mappedFrom: js });
    // Another column on the same compiled line maps to the same TypeScript line: the same object.
    expect(cache.get('priceOrders', js, at.line, at.column + 7)).toBe(f);
    expect(cache.get('priceOrders', js, at.line, 0)).toBe(f);
    // Without a resolver, frames stay as the runtime reported them.
    const plain = new FrameCache(() => false).get('priceOrders', js, at.line, at.column)!;
    expect(plain).toMatchObject({ file: js, line: at.line });
    expect(plain.mappedFrom).toBeUndefined();
  });
});

describe('index maps (sections)', () => {
  /**
   * A real index map: the tsc build and the esbuild bundle of the service concatenated into one file,
   * the second starting in the middle of the first's last line, each section its build's own map.
   */
  function concatenated(name: string, extra: (sections: object[]) => object[] = (s) => s): { js: string; map: object } {
    const parts = [builds['tsc, .js.map file']!, builds['esbuild bundle, .js.map file']!].map((js) => ({
      code: readFileSync(js, 'utf8').replace(/\n\/\/# sourceMappingURL=.*\n?$/, ''),
      map: JSON.parse(readFileSync(`${js}.map`, 'utf8')) as { sources?: string[]; sourceRoot?: string },
    }));
    const aLines = parts[0]!.code.split('\n');
    const offset = { line: aLines.length - 1, column: aLines[aLines.length - 1]!.length + 1 };
    const d = join(dir, 'index');
    mkdirSync(d, { recursive: true });
    const js = join(d, `${name}.js`);
    // Each build's map names its sources relative to its own directory: make them absolute, as they are.
    const absolute = (m: { sources?: string[]; sourceRoot?: string }, from: string) => ({ ...m, sourceRoot: undefined, sources: m.sources!.map((s) => join(dirname(from), m.sourceRoot ?? '', s)) });
    const map = {
      version: 3,
      sections: extra([
        { offset: { line: 0, column: 0 }, map: absolute(parts[0]!.map, builds['tsc, .js.map file']!) },
        { offset, map: absolute(parts[1]!.map, builds['esbuild bundle, .js.map file']!) },
      ]),
    };
    writeFileSync(js, `${parts[0]!.code};${parts[1]!.code}\n//# sourceMappingURL=${name}.js.map\n`);
    writeFileSync(`${js}.map`, JSON.stringify(map));
    return { js, map };
  }

  it('resolves every mapped position of a two-section index map as @jridgewell/trace-mapping does', () => {
    const { js, map } = concatenated('two');
    const oracle = new AnyMap(map as never);
    const r = new SourceMapResolver();
    let compared = 0;
    const seenSources = new Set<string>();
    eachMapping(oracle, (m) => {
      if (m.source === null) return;
      const got = r.resolve(js, m.generatedLine, m.generatedColumn + 1);
      expect(got, `${m.generatedLine}:${m.generatedColumn}`).toEqual({ file: m.source, line: m.originalLine, column: m.originalColumn! + 1 });
      seenSources.add(m.source);
      compared++;
    });
    expect(compared).toBeGreaterThan(500);
    expect(seenSources.has(TS_SERVICE)).toBe(true);
    // The marker of the second build, found by its column on the shared line or below: the TypeScript line.
    const ts = markerPosition(TS_SERVICE);
    const lines = readFileSync(js, 'utf8').split('\n');
    const hits = lines.flatMap((l, i) => (l.includes(HOT_MARKER) ? [i + 1] : []));
    expect(hits.length).toBe(2); // once per build
    for (const line of hits) expect(r.resolve(js, line, 0)).toMatchObject({ file: TS_SERVICE, line: ts.line });
  });

  it('refuses index maps it cannot read right: sections out of order, nested, by URL, too many', () => {
    const bad: [string, (s: object[]) => object[]][] = [
      ['unordered', (s) => [...s].reverse()],
      ['nested', (s) => [s[0]!, { offset: { line: 9999, column: 0 }, map: { version: 3, sections: [] } }]],
      ['url', (s) => [s[0]!, { offset: { line: 9999, column: 0 }, url: 'other.js.map' }]],
      ['negative', (s) => [{ offset: { line: -1, column: 0 }, map: (s[0] as { map: object }).map }]],
      ['too many', () => Array.from({ length: MAX_SECTIONS + 1 }, (_, i) => ({ offset: { line: i, column: 0 }, map: { version: 3, sources: [], mappings: '' } }))],
    ];
    for (const [name, edit] of bad) {
      const { js } = concatenated(name, edit);
      expect(new SourceMapResolver().resolve(js, 1, 1), name).toBeNull();
    }
    // An empty section list: no map, no error.
    const { js } = concatenated('empty', () => []);
    expect(new SourceMapResolver().resolve(js, 1, 1)).toBeNull();
  });
});
