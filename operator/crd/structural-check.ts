import { parseDuration } from '../../src/session/duration.js';
import type { JsonSchema } from './json-schema.js';
import { LABEL_KEY_PREFIX_RULE, LABEL_KEYS_RULE, REQUIREMENT_VALUES_RULE } from './schema.js';

/** The outcome of admitting one value through a structural schema, as the API server would. */
export interface SchemaCheck {
  ok: boolean;
  /** The value after pruning unknown fields and applying defaults (what would be stored). */
  value: unknown;
  /** `spec.requests: must be <= 10000`, one per problem. */
  errors: string[];
}

/**
 * A small model of what kube-apiserver does to a custom object with a structural schema: prune unknown
 * fields, apply defaults (a null or missing field with a default gets it), then validate types, bounds,
 * patterns, enums and the CEL rules this project emits. It exists so tests can show that the CRD and
 * resolveSpec accept and refuse the same specs, and so the fake API server refuses what a real one would.
 * It is not a general CEL engine: an unknown rule throws, so a new rule cannot pass unchecked.
 */
export function checkAgainstSchema(schema: JsonSchema, value: unknown, path = ''): SchemaCheck {
  const errors: string[] = [];
  const shaped = pruneAndDefault(schema, structuredClone(value));
  validate(schema, shaped, path, errors);
  return { ok: errors.length === 0, value: shaped, errors };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function pruneAndDefault(schema: JsonSchema, value: unknown): unknown {
  if (schema.type === 'object' && isObject(value)) {
    const props = schema.properties;
    if (props) {
      for (const key of Object.keys(value)) {
        if (!(key in props) && !schema.additionalProperties && !schema['x-kubernetes-preserve-unknown-fields']) delete value[key];
      }
      for (const [key, sub] of Object.entries(props)) {
        if (value[key] === null && !sub.nullable) delete value[key];
        if (value[key] === undefined && sub.default !== undefined) value[key] = structuredClone(sub.default);
        if (value[key] !== undefined) value[key] = pruneAndDefault(sub, value[key]);
      }
    } else if (schema.additionalProperties) {
      for (const key of Object.keys(value)) value[key] = pruneAndDefault(schema.additionalProperties, value[key]);
    }
    // An object schema with neither properties nor additionalProperties is opaque here (only
    // `metadata` in this CRD, which the API server treats specially).
  } else if (schema.type === 'array' && Array.isArray(value) && schema.items) {
    return value.map((v) => pruneAndDefault(schema.items!, v));
  }
  return value;
}

function typeOk(type: JsonSchema['type'], v: unknown): boolean {
  switch (type) {
    case undefined:
      return true;
    case 'object':
      return isObject(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'boolean':
      return typeof v === 'boolean';
  }
}

function validate(schema: JsonSchema, v: unknown, path: string, errors: string[]): void {
  const at = path || '<root>';
  if (v === null && schema.nullable) return;
  if (!typeOk(schema.type, v)) {
    errors.push(`${at}: must be of type ${schema.type}, got ${v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v}`);
    return;
  }
  if (schema.enum && !schema.enum.includes(v as string | number)) errors.push(`${at}: must be one of ${schema.enum.join(', ')}`);
  if (typeof v === 'number') {
    if (schema.minimum !== undefined && v < schema.minimum) errors.push(`${at}: must be >= ${schema.minimum}`);
    if (schema.maximum !== undefined && v > schema.maximum) errors.push(`${at}: must be <= ${schema.maximum}`);
  }
  if (typeof v === 'string') {
    const length = [...v].length; // the API server counts runes
    if (schema.minLength !== undefined && length < schema.minLength) errors.push(`${at}: must be at least ${schema.minLength} characters`);
    if (schema.maxLength !== undefined && length > schema.maxLength) errors.push(`${at}: must be at most ${schema.maxLength} characters`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(v)) errors.push(`${at}: must match ${schema.pattern}`);
    if (schema.format === 'date-time' && Number.isNaN(Date.parse(v))) errors.push(`${at}: must be an RFC 3339 date-time`);
  }
  if (Array.isArray(v)) {
    if (schema.minItems !== undefined && v.length < schema.minItems) errors.push(`${at}: must have at least ${schema.minItems} items`);
    if (schema.maxItems !== undefined && v.length > schema.maxItems) errors.push(`${at}: must have at most ${schema.maxItems} items`);
    if (schema.items) v.forEach((item, i) => validate(schema.items!, item, `${path}[${i}]`, errors));
  }
  if (isObject(v)) {
    const n = Object.keys(v).length;
    if (schema.maxProperties !== undefined && n > schema.maxProperties) errors.push(`${at}: must have at most ${schema.maxProperties} items`);
    for (const key of schema.required ?? []) if (v[key] === undefined) errors.push(`${path ? `${path}.` : ''}${key}: Required value`);
    for (const [key, item] of Object.entries(v)) {
      const sub = schema.properties?.[key] ?? schema.additionalProperties;
      if (sub) validate(sub, item, path ? `${path}.${key}` : key, errors);
    }
  }
  for (const { rule, message, messageExpression } of schema['x-kubernetes-validations'] ?? []) {
    // As the API server does: the expression's text, or the fixed message if it cannot be evaluated.
    if (!evaluateRule(rule, v)) errors.push(`${at}: ${(messageExpression === undefined ? undefined : evaluateMessage(messageExpression, v)) ?? message}`);
  }
}

const DURATION_RANGE = /^!self\.matches\(r'([^']+)'\) \|\| \(duration\(self\) >= duration\('([^']+)'\) && duration\(self\) <= duration\('([^']+)'\)\)$/;

/** The CEL rules this project emits; anything else is refused loudly rather than skipped. */
function evaluateRule(rule: string, self: unknown): boolean {
  const range = DURATION_RANGE.exec(rule);
  if (range) {
    if (typeof self !== 'string' || !new RegExp(range[1]!, 'u').test(self)) return true; // the pattern reports it
    try {
      const ms = parseDuration(self);
      return ms >= parseDuration(range[2]!) && ms <= parseDuration(range[3]!);
    } catch {
      return false;
    }
  }
  if (rule === REQUIREMENT_VALUES_RULE.rule) {
    const r = self as { operator?: unknown; values?: unknown[] };
    const has = Array.isArray(r.values);
    return r.operator === 'In' || r.operator === 'NotIn' ? has && r.values!.length > 0 : !has || r.values!.length === 0;
  }
  // The two label-key rules: `matches` with RE2 patterns, which JavaScript's RegExp reads the same way.
  const patterns = (r: string): RegExp[] => [...r.matchAll(/matches\(r'([^']+)'\)/g)].map((m) => new RegExp(m[1]!, 'u'));
  if (rule === LABEL_KEYS_RULE.rule) {
    const res = patterns(rule);
    return !isObject(self) || Object.keys(self).every((k) => res.every((re) => re.test(k)));
  }
  if (rule === LABEL_KEY_PREFIX_RULE.rule) return typeof self !== 'string' || patterns(rule).every((re) => re.test(self));
  throw new Error(`structural-check: unsupported CEL rule ${JSON.stringify(rule)}; teach evaluateRule about it`);
}

/**
 * The message expressions this project writes: `+` joining string literals ('…' or r'…'), `self` (a
 * string) and `self.<field>` (a string field of an object). `parseMessageExpression` is the
 * well-formedness check the CRD test runs on every rule; anything beyond this grammar is refused, so a
 * new expression is looked at before it ships.
 */
export type MessageTerm = { literal: string } | { field: string | null };

export function parseMessageExpression(expr: string): MessageTerm[] {
  const terms: MessageTerm[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`messageExpression ${JSON.stringify(expr)}: ${why} at ${i}`);
  };
  const space = (): void => {
    while (expr[i] === ' ') i++;
  };
  for (;;) {
    space();
    const raw = expr[i] === 'r' && expr[i + 1] === "'";
    if (raw || expr[i] === "'") {
      i += raw ? 2 : 1;
      let text = '';
      while (i < expr.length && expr[i] !== "'") {
        if (!raw && expr[i] === '\\') fail('escapes are not used in these messages');
        text += expr[i++];
      }
      if (expr[i] !== "'") fail('unterminated string');
      i++;
      terms.push({ literal: text });
    } else {
      const m = /^self(?:\.([A-Za-z_][A-Za-z0-9_]*))?/.exec(expr.slice(i));
      if (!m) fail('expected a string literal, self or self.<field>');
      terms.push({ field: m![1] ?? null });
      i += m![0].length;
    }
    space();
    if (i === expr.length) break;
    if (expr[i] !== '+') fail("expected '+'");
    i++;
  }
  if (!terms.some((t) => 'field' in t)) fail('the message never shows the value (use self)');
  return terms;
}

/** The message for a value, or undefined when the expression cannot be evaluated on it (CEL falls back to `message`). */
export function evaluateMessage(expr: string, self: unknown): string | undefined {
  let out = '';
  for (const t of parseMessageExpression(expr)) {
    if ('literal' in t) out += t.literal;
    else {
      const v = t.field === null ? self : isObject(self) ? self[t.field] : undefined;
      if (typeof v !== 'string') return undefined;
      out += v;
    }
  }
  return out;
}
