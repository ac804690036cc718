/**
 * The two patch formats Kubernetes accepts for custom resources: JSON merge patch (RFC 7386) and JSON
 * patch (RFC 6902). Pure functions over plain JSON; a failed JSON patch throws PatchError (the server
 * answers 422, or 409 for a failed `test`, like a real one).
 */
export class PatchError extends Error {
  constructor(message: string, readonly status: 409 | 422 = 422) {
    super(message);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** RFC 7386: objects merge recursively, null deletes, anything else (arrays too) replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: unknown;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new PatchError(`invalid JSON pointer ${JSON.stringify(path)}`);
  return path.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: unknown, tokens: string[], path: string): { parent: any; key: string } {
  let parent: any = doc;
  for (const t of tokens.slice(0, -1)) {
    parent = Array.isArray(parent) ? parent[Number(t)] : isObject(parent) ? parent[t] : undefined;
    if (parent === undefined) throw new PatchError(`path ${path} does not exist`);
  }
  return { parent, key: tokens[tokens.length - 1]! };
}

function read(doc: unknown, path: string): unknown {
  let v: any = doc;
  for (const t of pointer(path)) {
    v = Array.isArray(v) ? v[Number(t)] : isObject(v) ? v[t] : undefined;
    if (v === undefined) throw new PatchError(`path ${path} does not exist`);
  }
  return v;
}

function remove(doc: unknown, path: string): unknown {
  const { parent, key } = parentOf(doc, pointer(path), path);
  if (Array.isArray(parent)) {
    const i = Number(key);
    if (!(i >= 0 && i < parent.length)) throw new PatchError(`path ${path} does not exist`);
    return parent.splice(i, 1)[0];
  }
  if (!isObject(parent) || !(key in parent)) throw new PatchError(`path ${path} does not exist`);
  const old = parent[key];
  delete parent[key];
  return old;
}

function add(doc: unknown, path: string, value: unknown, replace: boolean): unknown {
  const tokens = pointer(path);
  if (tokens.length === 0) return structuredClone(value);
  const { parent, key } = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) {
    const i = key === '-' ? parent.length : Number(key);
    if (!(i >= 0 && i <= parent.length) || (replace && i >= parent.length)) throw new PatchError(`index ${key} out of range at ${path}`);
    if (replace) parent[i] = structuredClone(value);
    else parent.splice(i, 0, structuredClone(value));
  } else if (isObject(parent)) {
    if (replace && !(key in parent)) throw new PatchError(`path ${path} does not exist`);
    parent[key] = structuredClone(value);
  } else {
    throw new PatchError(`path ${path} does not exist`);
  }
  return doc;
}

/** RFC 6902, applied to a copy; all-or-nothing. */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new PatchError('a JSON patch must be an array of operations');
  let doc = structuredClone(target);
  for (const raw of ops as JsonPatchOp[]) {
    switch (raw?.op) {
      case 'add':
        doc = add(doc, raw.path, raw.value, false);
        break;
      case 'replace':
        doc = add(doc, raw.path, raw.value, true);
        break;
      case 'remove':
        remove(doc, raw.path);
        break;
      case 'move':
        doc = add(doc, raw.path, remove(doc, raw.from ?? ''), false);
        break;
      case 'copy':
        doc = add(doc, raw.path, read(doc, raw.from ?? ''), false);
        break;
      case 'test':
        if (JSON.stringify(read(doc, raw.path)) !== JSON.stringify(raw.value)) throw new PatchError(`test failed at ${raw.path}`, 409);
        break;
      default:
        throw new PatchError(`unknown JSON patch op ${JSON.stringify((raw as { op?: unknown })?.op)}`);
    }
  }
  return doc;
}
