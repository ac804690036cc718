import { formatDuration } from '../../src/session/duration.js';
import {
  API_GROUP,
  API_VERSION,
  KIND,
  PLURAL,
  type Condition,
  type Hotspot,
  type LabelSelector,
  type LabelSelectorRequirement,
  type PodSessionState,
  type PodStatus,
  type ProfilingSessionSpec,
  type ProfilingSessionStatus,
  type SessionPhase,
} from '../../src/session/types.js';
import { LABEL_KEY_RULE } from '../../src/session/labels.js';
import { SPEC_LIMITS } from '../../src/session/validate.js';
import type { CelRule, JsonSchema } from './json-schema.js';

/**
 * The ProfilingSession CustomResourceDefinition, built from the TypeScript types and SPEC_LIMITS so the
 * chart's YAML cannot disagree with the code: `npm run gen:crd` writes it, a test regenerates it and
 * fails on drift. The property tables below are typed `Fields<T>`, so adding, renaming or removing a field
 * in src/session/types.ts fails the build until the schema follows.
 */

/** Exactly the keys of T (optional ones too): a missing or extra key is a compile error. */
type Fields<T> = { [K in keyof Required<T>]: JsonSchema };

/** Record<Union, true> is exhaustive and has no extras, so enums follow their union types. */
const enumOf = <T extends string>(values: Record<T, true>): T[] => Object.keys(values) as T[];

const PHASES = enumOf<SessionPhase>({ Pending: true, Running: true, Completed: true, Failed: true });
const POD_STATES = enumOf<PodSessionState>({ Pending: true, Sampling: true, Done: true, Lost: true, Failed: true });
const SELECTOR_OPERATORS = enumOf<LabelSelectorRequirement['operator']>({ In: true, NotIn: true, Exists: true, DoesNotExist: true });
const CONDITION_STATUS = enumOf<Condition['status']>({ True: true, False: true, Unknown: true });

/**
 * Go-style durations in the units a spec allows, ms, s, m and h (RE2-compatible: the API server runs
 * it). resolveSpec refuses ns, us and µs the same way (src/session/validate.ts).
 */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$';
/** Kubernetes label syntax (the same as resolveSpec's checks). */
const LABEL_KEY_PATTERN = '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';
const LABEL_VALUE_PATTERN = '^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$';
/** A label key's DNS prefix is at most 253 characters; a pattern cannot bound a repeated group's total length. */
const LABEL_PREFIX_PATTERN = '^([^/]{1,253}/)?[^/]+$';

/**
 * Every key of `matchLabels` is a label key. A structural schema has no `propertyNames`, so it is a CEL
 * rule over the keys. Its estimated cost is what decides whether the API server takes the CRD at all:
 * the estimator sizes a map key as a plain string without a length (apiserver's SchemaDeclType gives map
 * keys `StringType`, whose MaxElements is 0), so the cost is the number of keys times a constant, and
 * `maxProperties` bounds that number. The message cannot show the map (`'…' + self` would not type-check
 * on a map, and a messageExpression that does not type-check makes the CRD itself invalid); the field path
 * the API server puts before it names the selector, and resolveSpec names the key.
 */
export const LABEL_KEYS_RULE: CelRule = {
  rule: `self.all(k, k.matches(r'${LABEL_KEY_PATTERN}') && k.matches(r'${LABEL_PREFIX_PATTERN}'))`,
  message: `every label key must be ${LABEL_KEY_RULE}`,
};

/** The same prefix bound on a requirement's key, whose pattern cannot say it either. */
export const LABEL_KEY_PREFIX_RULE: CelRule = {
  rule: `self.matches(r'${LABEL_PREFIX_PATTERN}')`,
  message: 'a label key prefix is at most 253 characters',
  messageExpression: "'a label key prefix is at most 253 characters, got ' + self",
};

/**
 * A CEL rule bounding a duration string. Patterns cannot express ranges; CEL's `duration()` parses the
 * same Go syntax. It first asks whether the text is a duration at all: if not, the pattern's own error
 * says so, and `duration()` is never called on it (it would add a "type conversion error" that shows
 * neither the field nor the value). The structural check in structural-check.ts evaluates exactly this form.
 */
export function durationRangeRule(minMs: number, maxMs: number): CelRule {
  const min = formatDuration(minMs);
  const max = formatDuration(maxMs);
  return {
    // A raw string (r'…'): the pattern's backslashes are not CEL escapes.
    rule: `!self.matches(r'${DURATION_PATTERN}') || (duration(self) >= duration('${min}') && duration(self) <= duration('${max}'))`,
    message: `must be between ${min} and ${max}`,
    messageExpression: `'must be between ${min} and ${max}, got ' + self`,
  };
}

/**
 * A selector requirement's operator and values go together (as resolveSpec and Kubernetes' own
 * LabelSelector validation say): In and NotIn need values, Exists and DoesNotExist take none. Without
 * this rule the API server stores such a session and the engine then fails it as InvalidSpec.
 */
export const REQUIREMENT_VALUES_RULE: CelRule = {
  rule: "self.operator == 'In' || self.operator == 'NotIn' ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",
  message: 'In and NotIn need a non-empty list of values; Exists and DoesNotExist take no values',
  messageExpression: "'operator ' + self.operator + ' on key ' + self.key + ': In and NotIn need a non-empty list of values; Exists and DoesNotExist take no values'",
};

const requirementFields: Fields<LabelSelectorRequirement> = {
  key: { type: 'string', maxLength: 317, pattern: LABEL_KEY_PATTERN, 'x-kubernetes-validations': [LABEL_KEY_PREFIX_RULE] },
  operator: { type: 'string', enum: SELECTOR_OPERATORS },
  values: { type: 'array', maxItems: 100, items: { type: 'string', maxLength: 63 }, 'x-kubernetes-list-type': 'atomic' },
};

const selectorFields: Fields<LabelSelector> = {
  matchLabels: {
    type: 'object',
    description: 'Pods whose labels include all of these.',
    maxProperties: SPEC_LIMITS.maxMatchLabels,
    additionalProperties: { type: 'string', maxLength: 63, pattern: LABEL_VALUE_PATTERN },
    'x-kubernetes-validations': [LABEL_KEYS_RULE],
  },
  matchExpressions: {
    type: 'array',
    description: 'Set-based requirements, all of which must hold.',
    maxItems: 20,
    items: { type: 'object', required: ['key', 'operator'], properties: requirementFields, 'x-kubernetes-validations': [REQUIREMENT_VALUES_RULE] },
    'x-kubernetes-list-type': 'atomic',
  },
};

const specFields: Fields<ProfilingSessionSpec> = {
  selector: {
    type: 'object',
    description: "Pods in the session's namespace (a label selector). Empty selects every pod with an agent.",
    default: {},
    properties: selectorFields,
    'x-kubernetes-map-type': 'atomic',
  },
  request: {
    type: 'string',
    description: 'A request type as agents report it, e.g. "GET /api/orders/:id".',
    minLength: 1,
    maxLength: SPEC_LIMITS.maxRequestLength,
    pattern: '\\S',
  },
  requests: {
    type: 'integer',
    description: 'The next N matching requests, counted across all selected pods.',
    minimum: SPEC_LIMITS.requests.min,
    maximum: SPEC_LIMITS.requests.max,
    default: SPEC_LIMITS.requests.default,
  },
  duration: {
    type: 'string',
    description: 'Hard deadline, a Go-style duration ("90s", "5m", "1h").',
    maxLength: 32,
    pattern: DURATION_PATTERN,
    default: SPEC_LIMITS.durationMs.default,
    'x-kubernetes-validations': [durationRangeRule(SPEC_LIMITS.durationMs.min, SPEC_LIMITS.durationMs.max)],
  },
  sampleInterval: {
    type: 'string',
    description: 'Sampling interval, a Go-style duration ("10ms").',
    maxLength: 32,
    pattern: DURATION_PATTERN,
    default: SPEC_LIMITS.sampleIntervalMs.default,
    'x-kubernetes-validations': [durationRangeRule(SPEC_LIMITS.sampleIntervalMs.min, SPEC_LIMITS.sampleIntervalMs.max)],
  },
  maxRequestsPerPod: {
    type: 'integer',
    description: 'Optional cap per pod, so one busy pod cannot take the whole budget.',
    minimum: 1,
    maximum: SPEC_LIMITS.requests.max,
  },
};

const conditionFields: Fields<Condition> = {
  type: { type: 'string', maxLength: 316 },
  status: { type: 'string', enum: CONDITION_STATUS },
  reason: { type: 'string', maxLength: 1024, description: 'CamelCase.' },
  message: { type: 'string', maxLength: 32768 },
  lastTransitionTime: { type: 'string', format: 'date-time' },
  observedGeneration: { type: 'integer', format: 'int64', minimum: 0 },
};

const podFields: Fields<PodStatus> = {
  name: { type: 'string' },
  requests: { type: 'integer', minimum: 0 },
  samples: { type: 'integer', minimum: 0 },
  state: { type: 'string', enum: POD_STATES },
  message: { type: 'string' },
  processes: { type: 'integer', minimum: 1 },
};

const hotspotFields: Fields<Hotspot> = {
  frame: { type: 'string', description: '`function file:line`' },
  selfPercent: { type: 'number' },
};

/**
 * Status fields that exist only on the Kubernetes object, not in the engine's SessionView: `selector` is
 * the spec's selector rendered as `app=web,tier in (a,b)` for the printer column (like a scale
 * subresource's status.selector).
 */
export interface KubernetesOnlyStatus {
  selector?: string;
}

const statusFields: Fields<ProfilingSessionStatus & KubernetesOnlyStatus> = {
  phase: { type: 'string', enum: PHASES },
  conditions: {
    type: 'array',
    items: { type: 'object', required: ['type', 'status'], properties: conditionFields },
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
  },
  requestsProfiled: { type: 'integer', minimum: 0 },
  progress: { type: 'string', description: '`37/100`' },
  pods: {
    type: 'array',
    description: 'Per-pod progress.',
    items: { type: 'object', required: ['name'], properties: podFields },
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['name'],
  },
  startedAt: { type: 'string', format: 'date-time' },
  completedAt: { type: 'string', format: 'date-time' },
  hotspots: {
    type: 'array',
    description: 'The top few frames by self time.',
    items: { type: 'object', properties: hotspotFields },
    'x-kubernetes-list-type': 'atomic',
  },
  sampleInterval: { type: 'string', description: 'The interval the stored samples stand for (e.g. 10ms).' },
  resultURL: { type: 'string' },
  observedGeneration: { type: 'integer', format: 'int64', minimum: 0 },
  selector: { type: 'string', description: 'The spec selector as text, for kubectl.' },
};

/** The spec's schema alone (what resolveSpec is compared against). */
export const SPEC_SCHEMA: JsonSchema = {
  type: 'object',
  description: 'What to profile: which pods, which request type, how many requests, for how long.',
  required: ['request'],
  properties: specFields,
};

/** The status schema (written only by the operator through the status subresource). */
export const STATUS_SCHEMA: JsonSchema = {
  type: 'object',
  description: 'What the operator observes. Recomputed from the store; never an input.',
  properties: statusFields,
};

/** The whole object's schema. */
export const OPENAPI_SCHEMA: JsonSchema = {
  type: 'object',
  description: 'Profile the next N requests of one type in the selected pods.',
  required: ['spec'],
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: SPEC_SCHEMA,
    status: STATUS_SCHEMA,
  },
};

/** Short names for kubectl (`kubectl get psess`). */
export const SHORT_NAMES = ['psess', 'prof'];
/** `kubectl get sonde` lists every Sonde resource. */
export const CATEGORIES = ['sonde'];

/** The CustomResourceDefinition object (apiextensions.k8s.io/v1), ready to serialise or to POST. */
export function buildCrd(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${API_GROUP}`, labels: { 'app.kubernetes.io/part-of': 'sonde' } },
    spec: {
      group: API_GROUP,
      scope: 'Namespaced',
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: KIND.toLowerCase(),
        shortNames: SHORT_NAMES,
        categories: CATEGORIES,
      },
      versions: [
        {
          name: API_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Selector', type: 'string', jsonPath: '.status.selector', description: 'Which pods' },
            { name: 'Request', type: 'string', jsonPath: '.spec.request', description: 'The request type profiled' },
            { name: 'Progress', type: 'string', jsonPath: '.status.progress', description: 'Requests profiled / requested' },
            { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
            { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Complete")].reason', priority: 1 },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: { openAPIV3Schema: OPENAPI_SCHEMA },
        },
      ],
    },
  };
}
