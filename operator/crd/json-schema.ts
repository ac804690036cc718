/**
 * The subset of OpenAPI v3 (as Kubernetes' structural schemas use it) that the ProfilingSession CRD
 * needs. Plain JSON, not client-node's `V1JSONSchemaProps`, whose camelCase fields (`xKubernetesValidations`)
 * would have to be mapped back before writing YAML.
 */
export interface JsonSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema;
  items?: JsonSchema;
  required?: string[];
  default?: unknown;
  enum?: (string | number)[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  /** Bounds an object's keys (a map's entries): also what bounds the cost of a CEL rule over them. */
  maxProperties?: number;
  pattern?: string;
  format?: 'date-time' | 'int64' | 'int32' | 'double';
  nullable?: boolean;
  /**
   * CEL rules. `messageExpression` (Kubernetes 1.27+) builds the error text from the value: without it
   * the API server shows `Invalid value: "string"` and the fixed message, never what the user wrote.
   * `message` stays as the fallback when the expression cannot be evaluated.
   */
  'x-kubernetes-validations'?: CelRule[];
  'x-kubernetes-list-type'?: 'atomic' | 'map' | 'set';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

/** One `x-kubernetes-validations` entry. */
export interface CelRule {
  rule: string;
  message: string;
  /** Absent only where the value cannot be shown as text (a rule over a map's keys). */
  messageExpression?: string;
}
