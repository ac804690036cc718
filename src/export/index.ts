import { SondeError } from '../errors.js';
import type { CallTree } from '../model/call-tree.js';
import type { AppRoots } from '../model/source-path.js';
import type { WeightName } from '../model/weights.js';
import { treeToCollapsed } from './collapsed.js';
import { treeToCpuProfile } from './cpuprofile.js';
import { treeToD3 } from './d3-hierarchy.js';
import { EXPORT_FORMAT_META, EXPORT_FORMATS, type ExportFormat, type ExportFormatMeta, isExportFormat } from './formats.js';
import type { ExportOptions } from './options.js';
import { treeToPprof } from './pprof.js';
import { treeToSpeedscope } from './speedscope.js';

export { EXPORT_FORMATS, EXPORT_FORMAT_META, isExportFormat, type ExportFormat, type ExportFormatMeta } from './formats.js';

/** A format's description (formats.ts) with its exporter. */
export interface ExportFormatInfo extends ExportFormatMeta {
  /** Pure: a string for text formats, bytes for pprof. */
  readonly export: (tree: CallTree, options?: ExportOptions) => string | Uint8Array;
}

const json = (v: unknown): string => JSON.stringify(v);
/** The options collapsed and d3 understand, without undefined members (exactOptionalPropertyTypes). */
const pick = (o: ExportOptions): { weight?: WeightName; roots?: AppRoots } => ({ ...(o.weight ? { weight: o.weight } : {}), ...(o.roots ? { roots: o.roots } : {}) });

const EXPORT_FUNCTIONS: Record<ExportFormat, ExportFormatInfo['export']> = {
  pprof: (tree, o = {}) => treeToPprof(tree, o),
  collapsed: (tree, o = {}) => treeToCollapsed(tree, pick(o)),
  speedscope: (tree, o = {}) => json(treeToSpeedscope(tree, o)),
  cpuprofile: (tree, o = {}) => json(treeToCpuProfile(tree, o)),
  d3: (tree, o = {}) => json(treeToD3(tree, pick(o))),
};

export const EXPORTERS: Readonly<Record<ExportFormat, ExportFormatInfo>> = Object.freeze(
  Object.fromEntries(EXPORT_FORMATS.map((f) => [f, { ...EXPORT_FORMAT_META[f], export: EXPORT_FUNCTIONS[f] }])) as Record<ExportFormat, ExportFormatInfo>,
);

/** Looks a format up by name; an unknown name is SONDE_UNSUPPORTED_FORMAT, listing the known ones. */
export function exportFormat(name: string): ExportFormatInfo {
  if (!isExportFormat(name)) throw new SondeError('SONDE_UNSUPPORTED_FORMAT', `${JSON.stringify(name)}; use one of ${EXPORT_FORMATS.join(', ')}`);
  return EXPORTERS[name];
}

export type { ExportOptions } from './options.js';
