import { randomUUID } from 'node:crypto';

/** A Kubernetes object as JSON. */
export type KubeObject = { apiVersion?: string; kind?: string; metadata: Record<string, any>; [field: string]: any };

/** What the fake knows about one resource type. */
export interface ResourceType {
  group: string; // '' for core
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  /** Writes to the main resource keep the old status; /status writes change only status. */
  statusSubresource: boolean;
  /** Custom resources drop `status` on create (it is the controller's to write). */
  dropStatusOnCreate: boolean;
  /** Non-metadata, non-status changes bump metadata.generation (custom resources). */
  tracksGeneration: boolean;
  /** Optional admission: pruning, defaulting and validation, as a structural schema does. */
  admit?: (obj: KubeObject) => { ok: boolean; value: unknown; errors: string[] };
}

/** `sonde.dev/profilingsessions`, or `pods` for core. */
export const resourceKey = (r: Pick<ResourceType, 'group' | 'plural'>): string => (r.group ? `${r.group}/${r.plural}` : r.plural);
export const apiVersionOf = (r: ResourceType): string => (r.group ? `${r.group}/${r.version}` : r.version);

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One change, kept in the history that watches replay from a resourceVersion. */
export interface StoredEvent {
  rv: number;
  type: WatchEventType;
  resource: string;
  object: KubeObject;
  /** The state before a MODIFIED, so selector watches can turn it into ADDED/DELETED. */
  previous?: KubeObject;
}

/** A Kubernetes API error, answered as a Status object. */
export class ApiError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string, readonly details?: Record<string, unknown>) {
    super(message);
  }
}

const clone = <T>(v: T): T => structuredClone(v);
const withoutMetaAndStatus = (o: KubeObject): string => {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
  return JSON.stringify(rest);
};

/**
 * The fake's etcd: objects per resource, a global resourceVersion counter, and a bounded history of
 * changes. A watch from a resourceVersion older than the history (after `compact()` or when the window
 * overflows) must get 410 Gone, as from a real API server after etcd compaction.
 */
export class ObjectStore {
  private rv: number;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private history: StoredEvent[] = [];
  /** Watches from a resourceVersion below this one get 410. */
  private compactedRv: number;
  private readonly listeners = new Set<(ev: StoredEvent) => void>();

  constructor(private readonly historyLimit = 10_000, startRv = 1000) {
    this.rv = startRv;
    this.compactedRv = startRv;
  }

  get resourceVersion(): number {
    return this.rv;
  }

  get oldestWatchableRv(): number {
    return this.compactedRv;
  }

  /** Forgets all history: every watch resuming from before now gets 410 Gone. */
  compact(): void {
    this.history = [];
    this.compactedRv = this.rv;
  }

  /** Events after `rv` for one resource, or undefined when that history has been compacted away. */
  since(rv: number, resource: string): StoredEvent[] | undefined {
    if (rv < this.compactedRv) return undefined;
    return this.history.filter((e) => e.rv > rv && e.resource === resource);
  }

  subscribe(listener: (ev: StoredEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private bucket(r: ResourceType): Map<string, KubeObject> {
    const key = resourceKey(r);
    let b = this.objects.get(key);
    if (!b) this.objects.set(key, (b = new Map()));
    return b;
  }

  private static id(r: ResourceType, namespace: string | undefined, name: string): string {
    return r.namespaced ? `${namespace ?? ''}/${name}` : name;
  }

  private record(type: WatchEventType, r: ResourceType, object: KubeObject, previous?: KubeObject): void {
    const ev: StoredEvent = { rv: this.rv, type, resource: resourceKey(r), object: clone(object), ...(previous ? { previous: clone(previous) } : {}) };
    this.history.push(ev);
    if (this.history.length > this.historyLimit) this.compactedRv = this.history.shift()!.rv;
    for (const l of [...this.listeners]) l(ev);
  }

  get(r: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const o = this.bucket(r).get(ObjectStore.id(r, namespace, name));
    return o ? clone(o) : undefined;
  }

  list(r: ResourceType, namespace?: string): KubeObject[] {
    const all = [...this.bucket(r).values()];
    return clone(namespace && r.namespaced ? all.filter((o) => o.metadata.namespace === namespace) : all);
  }

  private notFound(r: ResourceType, name: string): ApiError {
    return new ApiError(404, 'NotFound', `${r.plural}${r.group ? `.${r.group}` : ''} "${name}" not found`, { name, group: r.group, kind: r.plural });
  }

  private admit(r: ResourceType, obj: KubeObject, stored?: KubeObject): KubeObject {
    if (!r.admit) return obj;
    const result = r.admit(obj);
    // CRD validation ratcheting (Kubernetes 1.30+, on by default): an update is not refused for what the
    // stored object already had wrong, e.g. a spec stored under an older, laxer CRD getting its status.
    const before = stored === undefined ? [] : r.admit(stored).errors;
    const errors = result.errors.filter((e) => !before.includes(e));
    if (errors.length > 0) {
      throw new ApiError(422, 'Invalid', `${r.kind}.${r.group || 'core'} "${obj.metadata.name}" is invalid: ${errors.join(', ')}`, {
        name: obj.metadata.name,
        group: r.group,
        kind: r.kind,
        causes: errors.map((message) => ({ message })),
      });
    }
    return result.value as KubeObject;
  }

  create(r: ResourceType, input: KubeObject, namespace?: string): KubeObject {
    let obj = clone(input);
    obj.metadata = { ...(obj.metadata ?? {}) };
    if (r.namespaced) {
      const ns = namespace ?? obj.metadata.namespace ?? 'default';
      if (obj.metadata.namespace && obj.metadata.namespace !== ns) {
        throw new ApiError(400, 'BadRequest', `the namespace of the provided object does not match the namespace sent on the request`);
      }
      obj.metadata.namespace = ns;
    }
    if (!obj.metadata.name && obj.metadata.generateName) obj.metadata.name = `${obj.metadata.generateName}${randomUUID().slice(0, 5)}`;
    const name = obj.metadata.name as string | undefined;
    if (!name) throw new ApiError(422, 'Invalid', `${r.kind} is invalid: metadata.name: Required value`);
    const id = ObjectStore.id(r, obj.metadata.namespace, name);
    const bucket = this.bucket(r);
    if (bucket.has(id)) throw new ApiError(409, 'AlreadyExists', `${r.plural}${r.group ? `.${r.group}` : ''} "${name}" already exists`, { name, group: r.group, kind: r.plural });
    if (r.dropStatusOnCreate) delete obj.status;
    obj.apiVersion = apiVersionOf(r);
    obj.kind = r.kind;
    obj = this.admit(r, obj);
    this.rv++;
    obj.metadata.uid = randomUUID();
    obj.metadata.resourceVersion = String(this.rv);
    obj.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    if (r.tracksGeneration) obj.metadata.generation = 1;
    bucket.set(id, obj);
    this.record('ADDED', r, obj);
    return clone(obj);
  }

  /**
   * Replaces an object (PUT semantics, also the last step of PATCH). `subresource === 'status'` takes
   * only the status from `next`; otherwise the old status is kept when the type has a status
   * subresource. A resourceVersion or uid in `next` that differs from the stored one is a 409, as the
   * API server's optimistic concurrency and uid precondition make it.
   */
  update(r: ResourceType, namespace: string | undefined, name: string, next: KubeObject, subresource?: 'status'): KubeObject {
    const bucket = this.bucket(r);
    const id = ObjectStore.id(r, namespace, name);
    const current = bucket.get(id);
    if (!current) throw this.notFound(r, name);
    const meta = next.metadata ?? {};
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== '' && meta.resourceVersion !== current.metadata.resourceVersion) {
      throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${r.plural}${r.group ? `.${r.group}` : ''} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, group: r.group, kind: r.plural });
    }
    if (meta.uid !== undefined && meta.uid !== current.metadata.uid) {
      throw new ApiError(409, 'Conflict', `Precondition failed: UID in precondition: ${meta.uid}, UID in object meta: ${current.metadata.uid}`, { name, group: r.group, kind: r.plural });
    }
    if (meta.name !== undefined && meta.name !== name) throw new ApiError(400, 'BadRequest', 'the name of the object does not match the name on the URL');
    let obj: KubeObject;
    if (subresource === 'status') {
      obj = { ...clone(current), status: clone(next.status) };
      if (obj.status === undefined) delete obj.status;
    } else {
      obj = clone(next);
      obj.metadata = { ...clone(current.metadata), ...clone(meta) };
      if (r.statusSubresource) {
        if (current.status === undefined) delete obj.status;
        else obj.status = clone(current.status);
      }
    }
    // Identity and server-set fields are immutable.
    for (const k of ['uid', 'creationTimestamp', 'namespace', 'name', 'generation']) {
      if (current.metadata[k] === undefined) delete obj.metadata[k];
      else obj.metadata[k] = current.metadata[k];
    }
    obj.apiVersion = apiVersionOf(r);
    obj.kind = r.kind;
    obj = this.admit(r, obj, current);
    obj.metadata.resourceVersion = current.metadata.resourceVersion;
    if (JSON.stringify(obj) === JSON.stringify(current)) return clone(current); // a no-op write changes nothing
    if (r.tracksGeneration && subresource !== 'status' && withoutMetaAndStatus(obj) !== withoutMetaAndStatus(current)) {
      obj.metadata.generation = (current.metadata.generation ?? 0) + 1;
    }
    this.rv++;
    obj.metadata.resourceVersion = String(this.rv);
    bucket.set(id, obj);
    this.record('MODIFIED', r, obj, current);
    return clone(obj);
  }

  delete(r: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const bucket = this.bucket(r);
    const id = ObjectStore.id(r, namespace, name);
    const current = bucket.get(id);
    if (!current) throw this.notFound(r, name);
    bucket.delete(id);
    this.rv++;
    const gone = { ...clone(current), metadata: { ...clone(current.metadata), resourceVersion: String(this.rv) } };
    this.record('DELETED', r, gone);
    return gone;
  }
}
