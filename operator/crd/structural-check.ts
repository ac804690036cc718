import { parseDuration } from '../../src/session/duration.js';
import type { JsonSchema } from './json-schema.js';

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
    for (const key of schema.required ?? []) if (v[key] === undefined) errors.push(`${path ? `${path}.` : ''}${key}: Required value`);
    for (const [key, item] of Object.entries(v)) {
      const sub = schema.properties?.[key] ?? schema.additionalProperties;
      if (sub) validate(sub, item, path ? `${path}.${key}` : key, errors);
    }
  }
  for (const { rule, message } of schema['x-kubernetes-validations'] ?? []) {
    if (!evaluateRule(rule, v)) errors.push(`${at}: ${message}`);
  }
}

const DURATION_RANGE = /^duration\(self\) >= duration\('([^']+)'\) && duration\(self\) <= duration\('([^']+)'\)$/;

/** The CEL rules this project emits; anything else is refused loudly rather than skipped. */
function evaluateRule(rule: string, self: unknown): boolean {
  const range = DURATION_RANGE.exec(rule);
  if (range) {
    try {
      const ms = parseDuration(self as string);
      return ms >= parseDuration(range[1]!) && ms <= parseDuration(range[2]!);
    } catch {
      return false;
    }
  }
  throw new Error(`structural-check: unsupported CEL rule ${JSON.stringify(rule)}; teach evaluateRule about it`);
}
