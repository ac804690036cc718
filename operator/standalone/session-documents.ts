import { parseAllDocuments } from 'yaml';
import { API_GROUP, API_VERSION, KIND } from '../../src/session/types.js';
import { resolveSpec } from '../../src/session/validate.js';

/** One ProfilingSession read from a YAML file. The spec is left as written: the engine validates it. */
export interface SessionDocument {
  name: string;
  namespace: string;
  spec: unknown;
  /** 1-based line of the document's start, for messages. */
  line: number;
}

export type ParsedFile = { ok: true; sessions: SessionDocument[] } | { ok: false; problems: string[] };

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Reads every ProfilingSession of a (multi-document) YAML file, in the form `kubectl apply` takes.
 * All or nothing: one bad document makes the whole file "not readable now", so a half-saved file
 * never deletes the sessions its other documents describe. Every problem is reported with its line.
 */
export function parseSessionDocuments(text: string): ParsedFile {
  const problems: string[] = [];
  const sessions: SessionDocument[] = [];
  const seen = new Set<string>();
  const lineOf = (offset: number): number => text.slice(0, offset).split('\n').length;
  for (const doc of parseAllDocuments(text, { prettyErrors: true })) {
    // The document's first content line, not its `---` marker.
    const line = lineOf(doc.contents?.range?.[0] ?? doc.range?.[0] ?? 0);
    if (doc.errors.length) {
      for (const e of doc.errors) problems.push(`line ${e.linePos?.[0].line ?? line}: ${e.message.split('\n')[0]}`);
      continue;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue; // an empty document (a trailing `---`)
    const where = `document at line ${line}`;
    if (typeof value !== 'object' || Array.isArray(value)) {
      problems.push(`${where}: expected a ProfilingSession object`);
      continue;
    }
    const o = value as Record<string, unknown>;
    if (o.kind !== KIND) problems.push(`${where}: kind must be ${KIND}, got ${JSON.stringify(o.kind)}`);
    if (o.apiVersion !== undefined && o.apiVersion !== `${API_GROUP}/${API_VERSION}`) problems.push(`${where}: apiVersion must be ${API_GROUP}/${API_VERSION}, got ${JSON.stringify(o.apiVersion)}`);
    const meta = (o.metadata ?? {}) as Record<string, unknown>;
    const name = meta.name;
    const namespace = meta.namespace ?? 'default';
    const docProblems: string[] = [];
    if (typeof name !== 'string' || !NAME.test(name) || name.length > 253) docProblems.push(`${where}: metadata.name must be a lowercase DNS name, got ${JSON.stringify(name)}`);
    if (typeof namespace !== 'string' || !NAMESPACE.test(namespace) || namespace.length > 63) docProblems.push(`${where}: metadata.namespace must be a lowercase DNS label, got ${JSON.stringify(namespace)}`);
    if (!o.spec || typeof o.spec !== 'object' || Array.isArray(o.spec)) docProblems.push(`${where}: spec must be an object`);
    else if (docProblems.length) {
      // The file will not apply: say what is wrong with the spec too, so one edit fixes everything.
      const r = resolveSpec(o.spec);
      if (!r.ok) for (const p of r.problems) docProblems.push(`${where}: ${p.field}: ${p.message}`);
    }
    if (docProblems.length || typeof name !== 'string' || typeof namespace !== 'string') {
      problems.push(...docProblems);
      continue;
    }
    const key = `${namespace}/${name}`;
    if (seen.has(key)) {
      problems.push(`${where}: ${key} appears twice in the file`);
      continue;
    }
    seen.add(key);
    sessions.push({ name, namespace, spec: o.spec, line });
  }
  return problems.length ? { ok: false, problems } : { ok: true, sessions };
}
