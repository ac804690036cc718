import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { EXPORT_FORMATS, type ExportOptions, exportFormat } from '../../src/export/index.js';
import type { CallTree } from '../../src/model/call-tree.js';

const gzipAsync = promisify(gzip);

/** Every `?format=` of the tree route: JSON (the default) plus the export registry's formats. */
export const TREE_FORMATS = ['json', ...EXPORT_FORMATS] as const;
export type TreeFormat = (typeof TREE_FORMATS)[number];

export interface ExportedTree {
  body: Buffer;
  contentType: string;
  /** Without the leading dot, e.g. `pb.gz`. */
  extension: string;
}

/**
 * Runs one exporter of src/export (the one table the UI also reads) and applies what src/ cannot —
 * gzip for pprof — off the event loop's critical path (zlib's async API runs on the thread pool).
 */
export async function exportTree(format: Exclude<TreeFormat, 'json'>, tree: CallTree, options: ExportOptions): Promise<ExportedTree> {
  const info = exportFormat(format);
  const raw = info.export(tree, options);
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const body = info.compress === 'gzip' ? await gzipAsync(bytes) : bytes;
  return { body, contentType: info.contentType, extension: info.fileExtension };
}
