import {
  AGENT_DIR,
  AGENT_UID,
  AGENT_VOLUME,
  ANNOTATION_CONTAINER,
  ANNOTATION_INJECT,
  ANNOTATION_INJECTED,
  ANNOTATION_SKIPPED,
  INIT_CONTAINER,
  LABEL_AGENT,
  NODE_PRELOAD,
  PYTHON_DIR,
  RUNTIMES,
  TOKEN_AUDIENCE,
  TOKEN_DIR,
  TOKEN_FILE,
  TOKEN_SECONDS,
  TOKEN_VOLUME,
  type Runtime,
} from './injection-names.js';

/**
 * The injection as a pure function, in the manner of the OpenTelemetry Operator's pod mutator: a pod
 * (as JSON, from an AdmissionReview) and the operator's settings in, a decision and a JSON Patch
 * (RFC 6902) out. No I/O, no clock: the same pod always gives the same patch, and a pod that already
 * carries the injection gives none, so reinvocation (`reinvocationPolicy: IfNeeded`) changes nothing.
 */

/** What the operator tells every injected pod. */
export interface InjectionSettings {
  /** Sonde's version, written to `sonde.dev/injected`. */
  version: string;
  /** The init container's image (`--agent-image`); without it nothing can be injected. */
  agentImage?: string;
  /** What agents dial (`SONDE_URL`). */
  agentUrl: string;
  /** The CA's PEM text (`SONDE_CA_CERT`), so agents trust the operator's `wss://`. */
  caCert?: string;
  /** Namespaces never touched: the operator's own and `kube-system`. */
  skipNamespaces: readonly string[];
}

/** One RFC 6902 operation (the only kinds the mutator writes). */
export type PatchOp = { op: 'add' | 'replace' | 'test'; path: string; value: unknown } | { op: 'remove'; path: string };

/** What the mutator decided, for the response, the logs and the tests. */
export type Decision =
  | { kind: 'ignored'; why: string }
  | { kind: 'skipped'; reason: string; patch: PatchOp[] }
  | { kind: 'injected'; runtime: Runtime; container: string; patch: PatchOp[] };

type Json = Record<string, unknown>;
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: Json;
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
/** RFC 6901: `~` and `/` inside one path segment. */
export const pointer = (...segments: (string | number)[]): string => segments.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');

/** The app container's environment the agent needs, besides the runtime's own variable. */
const IDENTITY_ENV: readonly EnvVar[] = [
  { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
  { name: 'POD_UID', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.uid' } } },
];

const RUNTIME_VAR: Record<Runtime, string> = { node: 'NODE_OPTIONS', python: 'PYTHONPATH' };

/** The runtime variable's new value: Node options are appended to, a Python path is prepended to. */
function runtimeValue(runtime: Runtime, existing: string | undefined): string {
  if (runtime === 'node') return existing && existing.trim() ? `${existing} ${NODE_PRELOAD}` : NODE_PRELOAD;
  return existing ? `${PYTHON_DIR}:${existing}` : PYTHON_DIR;
}

/** The init container: copies the agent into the shared volume, under Pod Security `restricted`. */
export function initContainer(image: string, runtime: Runtime): Json {
  return {
    name: INIT_CONTAINER,
    image,
    imagePullPolicy: 'IfNotPresent',
    args: ['agent-bundle', '--runtime', runtime, AGENT_DIR],
    volumeMounts: [{ name: AGENT_VOLUME, mountPath: AGENT_DIR }],
    resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: AGENT_UID,
      runAsGroup: AGENT_UID,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}

/** The two volumes: the agent's files, and the ServiceAccount token for audience `sonde`. */
export function volumes(): Json[] {
  return [
    // Size-limited: the bundle is a few MB, and an emptyDir counts against the pod's ephemeral storage.
    { name: AGENT_VOLUME, emptyDir: { sizeLimit: '200Mi' } },
    { name: TOKEN_VOLUME, projected: { sources: [{ serviceAccountToken: { audience: TOKEN_AUDIENCE, expirationSeconds: TOKEN_SECONDS, path: 'token' } }] } },
  ];
}

/** Decides what to do with one pod. `namespace` is the request's (a template pod may not carry one). */
export function mutatePod(pod: unknown, namespace: string, settings: InjectionSettings): Decision {
  if (!isObject(pod) || !isObject(pod.metadata) || !isObject(pod.spec)) return { kind: 'ignored', why: 'the object is not a pod (no metadata or spec)' };
  const metadata = pod.metadata;
  const annotations = isObject(metadata.annotations) ? (metadata.annotations as Record<string, unknown>) : undefined;
  const labels = isObject(metadata.labels) ? (metadata.labels as Record<string, unknown>) : undefined;
  const wanted = annotations?.[ANNOTATION_INJECT];
  if (wanted === undefined) return { kind: 'ignored', why: `no ${ANNOTATION_INJECT} annotation` };
  if (settings.skipNamespaces.includes(namespace)) return { kind: 'ignored', why: `namespace ${namespace} is never injected` };
  const spec = pod.spec;
  const initContainers = Array.isArray(spec.initContainers) ? spec.initContainers : undefined;
  const podVolumes = Array.isArray(spec.volumes) ? spec.volumes : undefined;
  if (annotations?.[ANNOTATION_INJECTED] !== undefined || initContainers?.some((c) => isObject(c) && c.name === INIT_CONTAINER) || podVolumes?.some((v) => isObject(v) && v.name === AGENT_VOLUME)) {
    return { kind: 'ignored', why: 'already injected' };
  }

  const skip = (reason: string): Decision => {
    const patch = annotations?.[ANNOTATION_SKIPPED] === reason ? [] : setMapEntries(['metadata', 'annotations'], annotations, { [ANNOTATION_SKIPPED]: reason });
    return { kind: 'skipped', reason, patch };
  };
  if (typeof wanted !== 'string' || !(RUNTIMES as readonly string[]).includes(wanted)) return skip(`${ANNOTATION_INJECT} must be one of ${RUNTIMES.join(', ')}, got ${JSON.stringify(wanted).slice(0, 64)}`);
  const runtime = wanted as Runtime;
  if (!settings.agentImage) return skip('the operator has no agent image (--agent-image)');

  const containers = Array.isArray(spec.containers) ? spec.containers : [];
  if (containers.length === 0 || !containers.every((c) => isObject(c) && typeof c.name === 'string')) return skip('the pod has no named containers');
  const namedContainer = annotations?.[ANNOTATION_CONTAINER];
  const index = namedContainer === undefined ? 0 : containers.findIndex((c) => (c as Json).name === namedContainer);
  if (index < 0) return skip(`no container named ${JSON.stringify(namedContainer).slice(0, 80)} (${ANNOTATION_CONTAINER})`);
  const container = containers[index] as Json;
  // Mutating admission runs before validation: a name may be any length here, and reasons echo it.
  const name = (container.name as string).length > 63 ? `${(container.name as string).slice(0, 63)}…` : (container.name as string);

  if (container.env != null && (!Array.isArray(container.env) || !container.env.every((e) => isObject(e) && typeof e.name === 'string'))) return skip(`container ${name} has a malformed env`);
  if (container.volumeMounts != null && (!Array.isArray(container.volumeMounts) || !container.volumeMounts.every(isObject))) return skip(`container ${name} has malformed volumeMounts`);
  for (const [field, value] of [['volumes', spec.volumes], ['initContainers', spec.initContainers]] as const) {
    if (value != null && !Array.isArray(value)) return skip(`the pod's ${field} is not a list`);
  }
  const env = (Array.isArray(container.env) ? container.env : []) as EnvVar[];
  // Kubernetes takes the last definition of a name: that is the one the app sees.
  const lastOf = (n: string): { entry: EnvVar; at: number } | undefined => {
    for (let i = env.length - 1; i >= 0; i--) if (env[i]!.name === n) return { entry: env[i]!, at: i };
    return undefined;
  };
  const runtimeVar = RUNTIME_VAR[runtime];
  const existing = lastOf(runtimeVar);
  if (existing?.entry.valueFrom !== undefined) return skip(`${runtimeVar} of container ${name} comes from valueFrom; Sonde cannot add to a value it cannot see`);
  // envFrom may define the variable too; setting it in env would silently replace the app's value.
  if (!existing && Array.isArray(container.envFrom) && container.envFrom.length > 0) return skip(`container ${name} has envFrom, which may define ${runtimeVar}; add ${runtimeVar} to its env (even empty) to inject`);
  for (const want of IDENTITY_ENV) {
    const have = lastOf(want.name);
    if (have && fieldPathOf(have.entry) !== fieldPathOf(want)) {
      return skip(`container ${name} defines ${want.name} otherwise than the Downward API ${fieldPathOf(want)}`);
    }
  }
  const mounts = Array.isArray(container.volumeMounts) ? (container.volumeMounts as Json[]) : [];
  if (podVolumes?.some((v) => isObject(v) && v.name === TOKEN_VOLUME)) return skip(`the pod already has a volume named ${TOKEN_VOLUME}`);
  const taken = mounts.find((m) => isObject(m) && (m.mountPath === AGENT_DIR || m.mountPath === TOKEN_DIR));
  if (taken) return skip(`container ${name} already mounts something at ${String(taken.mountPath)}`);

  const patch: PatchOp[] = [];
  // Guard the index: if another webhook reordered containers between our read and the patch, the patch fails rather than hitting the wrong container.
  patch.push({ op: 'test', path: pointer('spec', 'containers', index, 'name'), value: container.name });
  const envPath = ['spec', 'containers', index, 'env'] as const;
  const added: EnvVar[] = [];
  // `add` sets the member whether or not it exists (`{name: NODE_OPTIONS}` alone is legal and empty).
  if (existing) patch.push({ op: 'add', path: pointer(...envPath, existing.at, 'value'), value: runtimeValue(runtime, existing.entry.value) });
  else added.push({ name: runtimeVar, value: runtimeValue(runtime, undefined) });
  for (const want of IDENTITY_ENV) if (!lastOf(want.name)) added.push(structuredClone(want));
  // The app's own SONDE_* values win: they are how a user points one workload elsewhere on purpose.
  const sonde: EnvVar[] = [
    { name: 'SONDE_URL', value: settings.agentUrl },
    { name: 'SONDE_TOKEN_FILE', value: TOKEN_FILE },
    ...(settings.caCert ? [{ name: 'SONDE_CA_CERT', value: settings.caCert }] : []),
  ];
  for (const v of sonde) if (!lastOf(v.name)) added.push(v);
  // A list that is absent or null (as some clients send) is created whole; one that is there is appended to.
  patch.push(...appendAll([...envPath], !Array.isArray(container.env), added));
  patch.push(
    ...appendAll(['spec', 'containers', index, 'volumeMounts'], !Array.isArray(container.volumeMounts), [
      { name: AGENT_VOLUME, mountPath: AGENT_DIR, readOnly: true },
      { name: TOKEN_VOLUME, mountPath: TOKEN_DIR, readOnly: true },
    ]),
  );
  patch.push(...appendAll(['spec', 'volumes'], podVolumes === undefined, volumes()));
  patch.push(...appendAll(['spec', 'initContainers'], initContainers === undefined, [initContainer(settings.agentImage, runtime)]));
  const annotate: Record<string, string> = { [ANNOTATION_INJECTED]: settings.version };
  patch.push(...setMapEntries(['metadata', 'annotations'], annotations, annotate));
  if (annotations?.[ANNOTATION_SKIPPED] !== undefined) {
    // A pod skipped by an earlier pass (another webhook fixed what we stopped at) now says what is true.
    patch.push({ op: 'test', path: pointer('metadata', 'annotations', ANNOTATION_SKIPPED), value: annotations[ANNOTATION_SKIPPED] });
    patch.push({ op: 'remove', path: pointer('metadata', 'annotations', ANNOTATION_SKIPPED) });
  }
  patch.push(...setMapEntries(['metadata', 'labels'], labels, { [LABEL_AGENT]: runtime }));
  return { kind: 'injected', runtime, container: name, patch };
}

function fieldPathOf(e: EnvVar): string | undefined {
  const ref = e.valueFrom?.fieldRef;
  return isObject(ref) && typeof ref.fieldPath === 'string' ? ref.fieldPath : undefined;
}

/** Appends items to an array at `path`, creating it when it does not exist. */
function appendAll(path: (string | number)[], missing: boolean, items: unknown[]): PatchOp[] {
  if (items.length === 0) return [];
  if (missing) return [{ op: 'add', path: pointer(...path), value: items }];
  return items.map((value) => ({ op: 'add', path: `${pointer(...path)}/-`, value }));
}

/** Sets keys of a string map (annotations, labels), creating the map when it does not exist. */
function setMapEntries(path: string[], current: Record<string, unknown> | undefined, entries: Record<string, string>): PatchOp[] {
  if (!current) return [{ op: 'add', path: pointer(...path), value: entries }];
  return Object.entries(entries)
    .filter(([k, v]) => current[k] !== v)
    .map(([k, v]) => ({ op: 'add', path: pointer(...path, k), value: v }));
}
