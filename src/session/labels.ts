/**
 * Kubernetes label syntax, one copy for the operator's spec checks (resolveSpec, the CRD's patterns say
 * the same) and the Node agent's SONDE_LABELS.
 */

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** A label key's DNS prefix is at most 253 characters (the name's 63 are in LABEL_KEY). */
const LABEL_KEY_PREFIX = /^([^/]{1,253}\/)?[^/]+$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

/** What a label key must be, as Kubernetes says it (IsQualifiedName), for error messages. */
export const LABEL_KEY_RULE = 'an optional DNS subdomain prefix of at most 253 characters and "/", then a name of at most 63 characters of [A-Za-z0-9_.-] that starts and ends with a letter or digit';

/** Whether `key` is a Kubernetes label key (a qualified name). */
export function isLabelKey(key: string): boolean {
  return LABEL_KEY.test(key) && LABEL_KEY_PREFIX.test(key);
}

/** Whether `value` is a Kubernetes label value (at most 63 characters, possibly empty). */
export function isLabelValue(value: string): boolean {
  return LABEL_VALUE.test(value);
}
