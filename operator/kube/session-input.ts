import type { SessionInput } from '../engine/contracts.js';
import type { ProfilingSessionObject } from './resources.js';

/** The queue key of an object. */
export const keyOf = (namespace: string, name: string): string => `${namespace}/${name}`;

/** Splits a queue key back into namespace and name. */
export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/**
 * The engine's input for a ProfilingSession: its desired state only. The spec goes as written (the
 * engine validates it and reports problems as a condition); the status is never read back.
 */
export function toSessionInput(obj: ProfilingSessionObject): SessionInput {
  const created = obj.metadata.creationTimestamp;
  return {
    id: obj.metadata.uid,
    name: obj.metadata.name,
    namespace: obj.metadata.namespace,
    source: 'kubernetes',
    createdAt: typeof created === 'string' ? created : created ? new Date(created as unknown as number).toISOString() : new Date(0).toISOString(),
    generation: obj.metadata.generation ?? 1,
    spec: obj.spec ?? {},
  };
}
