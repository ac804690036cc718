import { closeSync, existsSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { EXPORT_FORMAT_META, EXPORT_FORMATS } from '../../src/export/formats.js';
import { WEIGHT_NAMES } from '../../src/model/weights.js';
import { toApiError, readBounded } from './api-client.js';
import { parseFlags, sessionRef } from './cli-args.js';
import { EXIT, reportError, UnreachableError, UsageError } from './cli-errors.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS } from './connection.js';
import { type CliIO, PROCESS_IO, runRest } from './rest-command.js';

const FORMATS = ['json', ...EXPORT_FORMATS] as const;

/** `sonde export --help`. */
export const EXPORT_HELP = `sonde export — download a session's merged call tree from a running operator

Usage:
  sonde export SESSION [--format FORMAT] [-o FILE | -o -] [--pod POD] [--split slow|typical]
                       [--request ID] [--weight samples|wallUs|cpuUs] [--namespace NS] [--force]

SESSION is a session id, NAMESPACE/NAME, or NAME in --namespace (default "default").

Formats (--format, default pprof):
${FORMATS.map((f) => `  ${f.padEnd(11)} ${f === 'json' ? "the API's JSON tree (to stdout unless -o)" : `${EXPORT_FORMAT_META[f].label}, .${EXPORT_FORMAT_META[f].fileExtension}`}`).join('\n')}
  e.g. sonde export default/orders-slow && go tool pprof -top sonde-default-orders-slow.pb.gz

Options:
  -o, --output FILE   write to FILE; "-" writes to stdout (not a binary format to a terminal).
                      Default: the operator's file name (sonde-NS-NAME[-POD][-SPLIT].EXT) in the
                      current directory; json goes to stdout
  --force             overwrite an existing file (otherwise refused, and nothing is lost)
  --pod POD           one pod's tree
  --split slow|typical  the slowest requests (>= the session's p90) or the typical ones (<= p50)
  --request ID        one request's tree (ids: GET /api/v1/sessions/ID/requests)
  --weight W          samples, wallUs or cpuUs, for formats with one value per sample
  -n, --namespace NS  where a bare NAME lives
  -h, --help          this text

${CONNECTION_HELP}

Exit codes: 0 written; 1 the operator refused (its code and message are printed: SONDE_NOT_FOUND,
SONDE_UNSUPPORTED_FORMAT, SONDE_AUTH_REQUIRED…); 2 bad arguments or an existing file without --force;
3 the operator could not be reached or the download broke off (a partial file is removed).`;

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  format: { type: 'string' },
  output: { type: 'string', short: 'o' },
  force: { type: 'boolean' },
  pod: { type: 'string' },
  split: { type: 'string' },
  request: { type: 'string' },
  weight: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The largest export the CLI writes (the operator's trees are far smaller; a bound all the same). */
export const MAX_EXPORT_BYTES = 1024 * 1024 * 1024;
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;

/** Runs `sonde export …`; resolves with the exit code. `cwd` is where default file names land. */
export async function runExport(argv: string[], env: NodeJS.ProcessEnv, io: CliIO = PROCESS_IO, cwd: string = process.cwd()): Promise<number> {
  let parsed;
  try {
    parsed = parseFlags(argv, OPTIONS);
  } catch (e) {
    return reportError('export', e, io.stderr);
  }
  const v = parsed.values;
  if (v.help) {
    io.stdout.write(EXPORT_HELP + '\n');
    return EXIT.ok;
  }
  return runRest('export', v, env, io, async (client) => {
    const problems: string[] = [];
    const format = v.format ?? 'pprof';
    if (!(FORMATS as readonly string[]).includes(format)) problems.push(`--format must be one of ${FORMATS.join(', ')}, got ${JSON.stringify(format)}`);
    if (v.split !== undefined && v.split !== 'slow' && v.split !== 'typical') problems.push(`--split must be slow or typical, got ${JSON.stringify(v.split)}`);
    if (v.weight !== undefined && !(WEIGHT_NAMES as readonly string[]).includes(v.weight)) problems.push(`--weight must be one of ${WEIGHT_NAMES.join(', ')}, got ${JSON.stringify(v.weight)}`);
    for (const [flag, value] of [['--pod', v.pod], ['--request', v.request]] as const) {
      if (value !== undefined && (value === '' || value.length > 253 || /[\u0000-\u001f\u007f]/.test(value))) problems.push(`${flag} must be 1-253 printable characters`);
    }
    if (parsed.positionals.length !== 1) problems.push(`give one SESSION (an id, NAME or NAMESPACE/NAME), got ${parsed.positionals.length}`);
    if (problems.length) throw new UsageError(problems);
    const ref = sessionRef(parsed.positionals[0], v.namespace);
    const binary = format === 'pprof';
    const toStdout = v.output === '-' || (v.output === undefined && format === 'json');
    if (toStdout && binary && io.stdout.isTTY) throw new UsageError(['pprof is binary (gzipped protobuf): not written to a terminal; use -o FILE or a pipe']);
    // An explicit file is checked before anything is downloaded.
    if (v.output !== undefined && v.output !== '-' && existsSync(v.output) && !v.force) throw new UsageError([`${v.output} exists; add --force to overwrite it`]);

    const q = new URLSearchParams({ format });
    if (v.pod !== undefined) q.set('pod', v.pod);
    if (v.split !== undefined) q.set('split', v.split);
    if (v.request !== undefined) q.set('request', v.request);
    if (v.weight !== undefined) q.set('weight', v.weight);
    const res = await client.open('GET', `/api/v1/sessions/${ref}/tree?${q}`);
    if (res.status !== 200) throw toApiError(res.status, (await readBounded(res.body, 1024 * 1024)).toString('utf8'));

    if (toStdout) {
      const body = await readBounded(res.body, MAX_EXPORT_BYTES);
      await new Promise<void>((resolve, reject) => io.stdout.write(body, (e) => (e ? reject(e) : resolve())));
      return EXIT.ok;
    }
    const target = v.output ?? join(cwd, suggestedName(res.headers['content-disposition'], decodeURIComponent(ref), format as (typeof FORMATS)[number]));
    if (v.output === undefined && existsSync(target) && !v.force) {
      res.body.destroy();
      throw new UsageError([`${target} exists; add --force to overwrite it, or -o FILE`]);
    }
    const bytes = await writeAtomically(target, res.body);
    io.stderr.write(`sonde export: wrote ${bytes} bytes (${format}) to ${target}\n`);
    return EXIT.ok;
  });
}

/**
 * The file name the operator suggests (Content-Disposition), reduced to a plain name in the current
 * directory: a server cannot make the CLI write `../x` or `/etc/x`. A name that does not pass is
 * replaced by one built from the session.
 */
export function suggestedName(disposition: string | undefined, ref: string, format: (typeof FORMATS)[number]): string {
  const m = disposition ? /filename="([^"]*)"/.exec(disposition) : null;
  const name = m ? basename(m[1]!) : '';
  if (SAFE_NAME.test(name) && !name.startsWith('.')) return name;
  const ext = format === 'json' ? 'json' : EXPORT_FORMAT_META[format].fileExtension;
  return `sonde-${ref.replace(/[^A-Za-z0-9.-]+/g, '-')}.${ext}`;
}

/** Streams the body to `target` through a temporary file beside it, so a broken download leaves nothing. */
async function writeAtomically(target: string, body: NodeJS.ReadableStream): Promise<number> {
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.partial`);
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', 0o644);
  } catch (e) {
    body.resume();
    throw new UsageError([`cannot write ${target}: ${(e as Error).message}`]);
  }
  let bytes = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > MAX_EXPORT_BYTES) throw new UnreachableError(`the export is larger than ${MAX_EXPORT_BYTES} bytes; refused`);
      writeSync(fd, chunk);
    }
    closeSync(fd);
    renameSync(tmp, target);
    return bytes;
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
    rmSync(tmp, { force: true });
    if (e instanceof UnreachableError || e instanceof UsageError) throw e;
    throw new UnreachableError(`the download broke off: ${(e as Error).message}`);
  }
}
