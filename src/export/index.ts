import { SondeError } from '../errors.js';
import type { CallTree } from '../model/call-tree.js';
import { treeToCollapsed } from './collapsed.js';
import { treeToCpuProfile } from './cpuprofile.js';
import { treeToD3 } from './d3-hierarchy.js';
import type { ExportOptions } from './options.js';
import { treeToPprof } from './pprof.js';
import { treeToSpeedscope } from './speedscope.js';

/** The export formats, in the order menus list them. */
export const EXPORT_FORMATS = ['pprof', 'collapsed', 'speedscope', 'cpuprofile', 'd3'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** What the REST API and the UI need to offer one format: one table, so they cannot disagree. */
export interface ExportFormatInfo {
  readonly format: ExportFormat;
  /** For menus and tooltips. */
  readonly label: string;
  readonly contentType: string;
  /** The download's extension, without the leading dot; already includes `.gz` when `compress` says so. */
  readonly fileExtension: string;
  /**
   * 'gzip': the exporter's bytes are uncompressed (src/ has no zlib) and must be gzipped before
   * they are served under `fileExtension`.
   */
  readonly compress?: 'gzip';
  /** Pure: a string for text formats, bytes for pprof. */
  readonly export: (tree: CallTree, options?: ExportOptions) => string | Uint8Array;
}

const json = (v: unknown): string => JSON.stringify(v);

export const EXPORTERS: Readonly<Record<ExportFormat, ExportFormatInfo>> = Object.freeze({
  pprof: {
    format: 'pprof',
    label: 'pprof (go tool pprof, Pyroscope)',
    contentType: 'application/octet-stream',
    fileExtension: 'pb.gz',
    compress: 'gzip',
    export: (tree, o = {}) => treeToPprof(tree, o),
  },
  collapsed: {
    format: 'collapsed',
    label: 'Collapsed stacks (flamegraph.pl, inferno)',
    contentType: 'text/plain; charset=utf-8',
    fileExtension: 'folded',
    export: (tree, o = {}) => treeToCollapsed(tree, o.weight ? { weight: o.weight } : {}),
  },
  speedscope: {
    format: 'speedscope',
    label: 'speedscope',
    contentType: 'application/json',
    fileExtension: 'speedscope.json',
    export: (tree, o = {}) => json(treeToSpeedscope(tree, o)),
  },
  cpuprofile: {
    format: 'cpuprofile',
    label: 'Chrome DevTools (.cpuprofile)',
    contentType: 'application/json',
    fileExtension: 'cpuprofile',
    export: (tree, o = {}) => json(treeToCpuProfile(tree, o)),
  },
  d3: {
    format: 'd3',
    label: 'd3 hierarchy (JSON)',
    contentType: 'application/json',
    fileExtension: 'd3.json',
    export: (tree, o = {}) => json(treeToD3(tree, o.weight ? { weight: o.weight } : {})),
  },
});

export function isExportFormat(value: unknown): value is ExportFormat {
  return typeof value === 'string' && (EXPORT_FORMATS as readonly string[]).includes(value);
}

/** Looks a format up by name; an unknown name is SONDE_UNSUPPORTED_FORMAT, listing the known ones. */
export function exportFormat(name: string): ExportFormatInfo {
  if (!isExportFormat(name)) throw new SondeError('SONDE_UNSUPPORTED_FORMAT', `${JSON.stringify(name)}; use one of ${EXPORT_FORMATS.join(', ')}`);
  return EXPORTERS[name];
}

export type { ExportOptions } from './options.js';
