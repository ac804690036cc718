import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { jsonPatch, mergePatch, PatchError } from './patch.js';
import { DEFAULT_RESOURCES, PODS, PROFILING_SESSIONS } from './resources.js';
import { parseFieldSelector, parseLabelSelector, type Predicate } from './selectors.js';
import { ApiError, apiVersionOf, ObjectStore, resourceKey, type KubeObject, type ResourceType, type StoredEvent } from './store.js';
import { TokenBook } from './token-reviews.js';
import { AccessPolicy } from './access-policy.js';

export interface FakeKubeOptions {
  /** The bearer token clients must present (default: random). */
  token?: string;
  port?: number;
  /** How often a watch that asked for bookmarks gets one (default 1 s; a real server: about a minute). */
  bookmarkIntervalMs?: number;
  /** Changes kept for watches to resume from; older resourceVersions get 410 Gone. */
  historyLimit?: number;
  resources?: ResourceType[];
}

/** One request as the fake saw it, for tests that check what a client sent. */
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType?: string;
  body?: unknown;
  status: number;
  watch: boolean;
}

/** An error to answer instead of serving, `times` times, to requests that match. */
export interface Fault {
  method?: string;
  /** A substring of, or a pattern over, the path (without query). */
  path?: string | RegExp;
  times?: number;
  code: number;
  reason?: string;
  message?: string;
}

interface WatchConn {
  resource: string;
  res: ServerResponse;
  close: () => void;
}

interface Route {
  resource: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
}

const MAX_BODY = 3 * 1024 * 1024;

/**
 * A fake kube-apiserver on loopback that speaks the real HTTP protocol client-node uses: list with
 * metadata.resourceVersion, `?watch=true&resourceVersion=X` streaming JSON lines (ADDED, MODIFIED,
 * DELETED, BOOKMARK, ERROR 410 Expired), label and field selectors, the status subresource with
 * generation semantics, merge and JSON patches, optimistic concurrency (409), TokenReviews and Events.
 * Tests drive it through its controls: break or end watches, compact history, inject faults, inspect
 * requests, mint pod tokens. See test/fake-kube/README.md.
 */
export class FakeKubeApiServer {
  readonly store: ObjectStore;
  readonly tokens = new TokenBook();
  /** Who may do what, for SubjectAccessReviews. */
  readonly policy = new AccessPolicy();
  /** Reviews (TokenReview, SubjectAccessReview) wait this long before answering, to test bounds on them. */
  reviewDelayMs = 0;
  /** Reviews being answered now, and the most ever at once. */
  reviewsInFlight = 0;
  peakReviewsInFlight = 0;
  readonly requests: RecordedRequest[] = [];
  readonly token: string;
  private readonly resources: ResourceType[];
  private readonly watches = new Set<WatchConn>();
  private readonly faults: (Fault & { times: number })[] = [];
  private readonly bookmarkIntervalMs: number;
  private server!: Server;
  private port = 0;

  private constructor(opts: FakeKubeOptions) {
    this.token = opts.token ?? randomBytes(16).toString('hex');
    this.store = new ObjectStore(opts.historyLimit ?? 10_000);
    this.resources = opts.resources ?? DEFAULT_RESOURCES;
    this.bookmarkIntervalMs = opts.bookmarkIntervalMs ?? 1000;
  }

  /** Starts on 127.0.0.1 (a random port unless given). */
  static async start(opts: FakeKubeOptions = {}): Promise<FakeKubeApiServer> {
    const fake = new FakeKubeApiServer(opts);
    fake.server = createServer((req, res) => void fake.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      fake.server.once('error', reject);
      fake.server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
    });
    fake.port = (fake.server.address() as AddressInfo).port;
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    this.breakWatches();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A served resource type by plural (and group, for ambiguity). */
  resource(plural: string, group?: string): ResourceType {
    const r = this.resources.find((x) => x.plural === plural && (group === undefined || x.group === group));
    if (!r) throw new Error(`fake-kube serves no resource ${plural}`);
    return r;
  }

  // ---- test controls ------------------------------------------------------------------------------

  /** Destroys every open watch connection (or those of one resource) abruptly, like a dropped TCP link. */
  breakWatches(plural?: string): number {
    let n = 0;
    for (const w of [...this.watches]) {
      if (plural && !w.resource.endsWith(plural)) continue;
      w.close();
      w.res.socket?.destroy();
      n++;
    }
    return n;
  }

  /** Ends every open watch cleanly, as the server does when timeoutSeconds runs out. */
  endWatches(plural?: string): number {
    let n = 0;
    for (const w of [...this.watches]) {
      if (plural && !w.resource.endsWith(plural)) continue;
      w.close();
      w.res.end();
      n++;
    }
    return n;
  }

  /** Open watches (of one resource when `plural` is given). */
  watchCount(plural?: string): number {
    return [...this.watches].filter((w) => !plural || w.resource.endsWith(plural)).length;
  }

  /** Drops the change history: resuming a watch from any earlier resourceVersion gets 410 Gone. */
  compact(): void {
    this.store.compact();
  }

  /** Sends a BOOKMARK now to every watch that asked for them. */
  sendBookmarks(): void {
    for (const w of this.watches) (w as WatchConn & { bookmark?: () => void }).bookmark?.();
  }

  /** Answers the next `times` (default 1) matching requests with an error Status instead of serving them. */
  failNext(fault: Fault): void {
    this.faults.push({ ...fault, times: fault.times ?? 1 });
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  // ---- direct object helpers (bypass HTTP; watches still see the changes) -------------------------

  /** Creates a pod with labels and optional owner references; status.phase defaults to Running. */
  addPod(pod: { name: string; namespace?: string; labels?: Record<string, string>; ownerReferences?: unknown[]; phase?: string }): KubeObject {
    return this.store.create(PODS, {
      metadata: { name: pod.name, namespace: pod.namespace ?? 'default', labels: pod.labels ?? {}, ...(pod.ownerReferences ? { ownerReferences: pod.ownerReferences } : {}) },
      spec: { containers: [{ name: 'app', image: 'app:latest' }], serviceAccountName: 'default' },
      status: { phase: pod.phase ?? 'Running' },
    });
  }

  /** Creates a ProfilingSession (admitted through the CRD schema, so defaults apply). */
  createSession(namespace: string, name: string, spec: unknown): KubeObject {
    return this.store.create(PROFILING_SESSIONS, { metadata: { name, namespace }, spec } as KubeObject);
  }

  // ---- HTTP ---------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    const watch = query.watch === 'true' || query.watch === '1';
    const record: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, query, status: 0, watch };
    const ct = req.headers['content-type'];
    if (ct) record.contentType = ct;
    this.requests.push(record);
    const send = (status: number, body: unknown): void => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const fail = (e: ApiError): void => send(e.code, statusOf(e));
    try {
      if (req.headers.authorization !== `Bearer ${this.token}`) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      const raw = await readBody(req);
      if (raw.length) {
        try {
          record.body = JSON.parse(raw);
        } catch {
          throw new ApiError(400, 'BadRequest', 'the request body is not JSON');
        }
      }
      const fault = this.takeFault(record.method, url.pathname);
      if (fault) throw new ApiError(fault.code, fault.reason ?? 'InternalError', fault.message ?? `injected fault ${fault.code}`);
      if (url.pathname === '/version') return send(200, { major: '1', minor: '31', gitVersion: 'v1.31.0-fake' });
      const isTokenReview = url.pathname === '/apis/authentication.k8s.io/v1/tokenreviews';
      if ((isTokenReview || url.pathname === '/apis/authorization.k8s.io/v1/subjectaccessreviews') && record.method === 'POST') {
        this.peakReviewsInFlight = Math.max(this.peakReviewsInFlight, ++this.reviewsInFlight);
        try {
          if (this.reviewDelayMs > 0) await new Promise((r) => setTimeout(r, this.reviewDelayMs));
        } finally {
          this.reviewsInFlight--;
        }
        if (res.destroyed) return;
        return send(201, isTokenReview ? this.tokens.review(record.body) : this.policy.review(record.body));
      }
      const route = this.route(url.pathname);
      if (watch && record.method === 'GET' && !route.name) {
        record.status = 200;
        return this.watch(route, query, res);
      }
      const { status, body } = this.serve(record.method, route, query, record.body, ct ?? '');
      send(status, body);
    } catch (err) {
      if (err instanceof ApiError) return fail(err);
      if (err instanceof PatchError) return fail(new ApiError(err.status, err.status === 409 ? 'Conflict' : 'Invalid', err.message));
      if (err instanceof RangeError) return fail(new ApiError(400, 'BadRequest', err.message));
      fail(new ApiError(500, 'InternalError', (err as Error).message));
    }
  }

  private takeFault(method: string, path: string): Fault | undefined {
    const i = this.faults.findIndex(
      (f) => (!f.method || f.method === method) && (!f.path || (typeof f.path === 'string' ? path.includes(f.path) : f.path.test(path))),
    );
    if (i < 0) return undefined;
    const f = this.faults[i]!;
    if (--f.times <= 0) this.faults.splice(i, 1);
    return f;
  }

  private route(path: string): Route {
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    let group: string;
    let rest: string[];
    if (parts[0] === 'api' && parts[1] === 'v1') {
      group = '';
      rest = parts.slice(2);
    } else if (parts[0] === 'apis' && parts.length >= 3) {
      group = parts[1]!;
      rest = parts.slice(3);
    } else {
      throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${path})`);
    }
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const resource = this.resources.find((r) => r.group === group && r.plural === rest[0]);
    if (!resource || rest.length > 3) throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${path})`);
    return { resource, namespace, name: rest[1], subresource: rest[2] };
  }

  private serve(method: string, route: Route, query: Record<string, string>, body: unknown, contentType: string): { status: number; body: unknown } {
    const { resource: r, namespace, name, subresource } = route;
    if (subresource && (subresource !== 'status' || !r.statusSubresource)) throw new ApiError(404, 'NotFound', `no subresource ${subresource}`);
    const sub = subresource as 'status' | undefined;
    if (!name) {
      if (method === 'GET') return { status: 200, body: this.list(r, namespace, query) };
      if (method === 'POST') return { status: 201, body: this.store.create(r, body as KubeObject, namespace) };
      throw new ApiError(405, 'MethodNotAllowed', `${method} is not supported on a collection`);
    }
    switch (method) {
      case 'GET': {
        const obj = this.store.get(r, namespace, name);
        if (!obj) throw new ApiError(404, 'NotFound', `${r.plural}${r.group ? `.${r.group}` : ''} "${name}" not found`, { name, group: r.group, kind: r.plural });
        return { status: 200, body: obj };
      }
      case 'PUT':
        return { status: 200, body: this.store.update(r, namespace, name, body as KubeObject, sub) };
      case 'PATCH': {
        const current = this.store.get(r, namespace, name);
        if (!current) throw new ApiError(404, 'NotFound', `${r.plural}${r.group ? `.${r.group}` : ''} "${name}" not found`, { name, group: r.group, kind: r.plural });
        const type = contentType.split(';')[0]!.trim();
        let patched: unknown;
        if (type === 'application/merge-patch+json') patched = mergePatch(current, body);
        else if (type === 'application/json-patch+json') patched = jsonPatch(current, body);
        else if (type === 'application/strategic-merge-patch+json' && !r.group) patched = mergePatch(current, body);
        else throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json`);
        return { status: 200, body: this.store.update(r, namespace, name, patched as KubeObject, sub) };
      }
      case 'DELETE':
        return { status: 200, body: this.store.delete(r, namespace, name) };
      default:
        throw new ApiError(405, 'MethodNotAllowed', `${method} is not supported`);
    }
  }

  private filter(query: Record<string, string>): Predicate {
    const labels = parseLabelSelector(query.labelSelector);
    const fields = parseFieldSelector(query.fieldSelector);
    return (o) => labels(o) && fields(o);
  }

  private list(r: ResourceType, namespace: string | undefined, query: Record<string, string>): unknown {
    const match = this.filter(query);
    return {
      kind: `${r.kind}List`,
      apiVersion: apiVersionOf(r),
      metadata: { resourceVersion: String(this.store.resourceVersion) },
      items: this.store.list(r, namespace).filter(match),
    };
  }

  private watch(route: Route, query: Record<string, string>, res: ServerResponse): void {
    const r = route.resource;
    const key = resourceKey(r);
    const match = this.filter(query);
    const inScope = (o: KubeObject): boolean => !route.namespace || !r.namespaced || o.metadata.namespace === route.namespace;
    const rvParam = query.resourceVersion;
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const write = (type: string, object: unknown): void => void res.write(`${JSON.stringify({ type, object })}\n`);

    let replay: StoredEvent[] = [];
    if (rvParam && rvParam !== '0') {
      const from = Number(rvParam);
      const since = Number.isFinite(from) ? this.store.since(from, key) : undefined;
      if (!since) {
        write('ERROR', {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: `too old resource version: ${rvParam} (${this.store.oldestWatchableRv})`,
          reason: 'Expired',
          code: 410,
        });
        res.end();
        return;
      }
      replay = since;
    } else {
      for (const o of this.store.list(r, route.namespace)) if (match(o)) write('ADDED', o);
    }

    const deliver = (ev: StoredEvent): void => {
      if (ev.resource !== key || !inScope(ev.object)) return;
      const now = match(ev.object);
      if (ev.type === 'ADDED') {
        if (now) write('ADDED', ev.object);
      } else if (ev.type === 'DELETED') {
        if (now) write('DELETED', ev.object);
      } else {
        const before = ev.previous ? match(ev.previous) : now;
        if (before && now) write('MODIFIED', ev.object);
        else if (now) write('ADDED', ev.object);
        else if (before) write('DELETED', ev.object);
      }
    };
    for (const ev of replay) deliver(ev);
    const unsubscribe = this.store.subscribe(deliver);

    const bookmark = (): void => write('BOOKMARK', { kind: r.kind, apiVersion: apiVersionOf(r), metadata: { resourceVersion: String(this.store.resourceVersion) } });
    const wantsBookmarks = query.allowWatchBookmarks === 'true';
    const timers: NodeJS.Timeout[] = [];
    if (wantsBookmarks) timers.push(setInterval(bookmark, this.bookmarkIntervalMs));
    const timeoutSeconds = Number(query.timeoutSeconds);
    let conn: WatchConn & { bookmark?: () => void };
    const close = (): void => {
      unsubscribe();
      timers.forEach(clearInterval);
      this.watches.delete(conn);
    };
    conn = { resource: key, res, close, ...(wantsBookmarks ? { bookmark } : {}) };
    if (timeoutSeconds > 0) timers.push(setTimeout(() => (close(), res.end()), timeoutSeconds * 1000));
    this.watches.add(conn);
    res.on('close', close);
  }
}

function statusOf(e: ApiError): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: e.message, reason: e.reason, ...(e.details ? { details: e.details } : {}), code: e.code };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new ApiError(413, 'RequestEntityTooLarge', 'the request body is too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
