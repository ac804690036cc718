import { parseArgs, type ParseArgsConfig } from 'node:util';
import { negativeValuesInline } from '../cli-args.js';
import { UsageError } from './cli-errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * parseArgs with the CLI's own wording. A string option followed by a negative number (`--requests -3`)
 * takes it as its value, so the range check can name the flag instead of Node's "ambiguous argument".
 */
export function parseFlags<O extends Options>(argv: string[], options: O): ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>> {
  const args = negativeValuesInline(argv);
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    const m = (e as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError([m]);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Checks a namespace flag: a DNS label of at most 63 characters. */
export function checkNamespace(ns: string | undefined, flag = '--namespace'): string | undefined {
  if (ns !== undefined && (!DNS_LABEL.test(ns) || ns.length > 63)) throw new UsageError([`${flag} must be a lowercase DNS label, got ${JSON.stringify(ns)}`]);
  return ns;
}

/** Checks a session name: a DNS subdomain of at most 253 characters. */
export function isSessionName(name: string): boolean {
  return DNS_NAME.test(name) && name.length <= 253;
}

/**
 * The API's `:id` for what the user typed: a session id (UUID) as is; `NAMESPACE/NAME` as is; a bare
 * NAME in `--namespace` (default `default`). URL-encoded, so `/` and anything odd stay in the segment.
 */
export function sessionRef(ref: string | undefined, namespace: string | undefined): string {
  if (ref === undefined || ref === '') throw new UsageError(['name the session: an id, NAME (with --namespace) or NAMESPACE/NAME']);
  if (UUID.test(ref)) return encodeURIComponent(ref);
  const slash = ref.indexOf('/');
  const ns = slash >= 0 ? ref.slice(0, slash) : (namespace ?? 'default');
  const name = slash >= 0 ? ref.slice(slash + 1) : ref;
  if (slash >= 0 && namespace !== undefined && namespace !== ns) throw new UsageError([`${JSON.stringify(ref)} names namespace ${ns} but --namespace says ${namespace}`]);
  checkNamespace(ns, `the namespace in ${JSON.stringify(ref)}`);
  if (!isSessionName(name)) throw new UsageError([`${JSON.stringify(ref)} is not a session id, NAME or NAMESPACE/NAME`]);
  return encodeURIComponent(`${ns}/${name}`);
}
