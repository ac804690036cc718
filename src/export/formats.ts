/**
 * The export formats as menus and HTTP responses describe them, without the exporters themselves, so
 * the UI can list formats without bundling every exporter (and pprof-format). `index.ts` pairs each
 * entry with its export function.
 */

/** The export formats, in the order menus list them. */
export const EXPORT_FORMATS = ['pprof', 'collapsed', 'speedscope', 'cpuprofile', 'd3'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** What the REST API and the UI need to offer one format: one table, so they cannot disagree. */
export interface ExportFormatMeta {
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
}

export const EXPORT_FORMAT_META: Readonly<Record<ExportFormat, ExportFormatMeta>> = Object.freeze({
  pprof: { format: 'pprof', label: 'pprof (go tool pprof, Pyroscope)', contentType: 'application/octet-stream', fileExtension: 'pb.gz', compress: 'gzip' },
  collapsed: { format: 'collapsed', label: 'Collapsed stacks (flamegraph.pl, inferno)', contentType: 'text/plain; charset=utf-8', fileExtension: 'folded' },
  speedscope: { format: 'speedscope', label: 'speedscope', contentType: 'application/json', fileExtension: 'speedscope.json' },
  cpuprofile: { format: 'cpuprofile', label: 'Chrome DevTools (.cpuprofile)', contentType: 'application/json', fileExtension: 'cpuprofile' },
  d3: { format: 'd3', label: 'd3 hierarchy (JSON)', contentType: 'application/json', fileExtension: 'd3.json' },
});

export function isExportFormat(value: unknown): value is ExportFormat {
  return typeof value === 'string' && (EXPORT_FORMATS as readonly string[]).includes(value);
}
