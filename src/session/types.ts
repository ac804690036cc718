/**
 * The ProfilingSession resource (sonde.dev/v1alpha1, namespaced). These types are the one source of
 * truth: the CRD's OpenAPI schema in charts/sonde/crds/ is generated from `crd-schema.ts`, which
 * mirrors them, and CI regenerates it and fails on drift.
 */
export const API_GROUP = 'sonde.dev';
export const API_VERSION = 'v1alpha1';
export const KIND = 'ProfilingSession';
export const PLURAL = 'profilingsessions';

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** What the user asks for. */
export interface ProfilingSessionSpec {
  /** Pods in the session's namespace. An empty selector selects every pod with an agent. */
  selector: LabelSelector;
  /** A request type as agents report it, e.g. `GET /api/orders/:id`. */
  request: string;
  /** The next N matching requests, counted across all selected pods. 1–10,000; default 100. */
  requests: number;
  /** Hard deadline as a Go-style duration (`90s`, `5m`, `1h`); ≤ 1h; default `5m`. */
  duration: string;
  /** Sampling interval (`1ms`–`1s`); default `10ms`. */
  sampleInterval: string;
  /** Optional cap per pod, so one busy pod cannot take the whole budget. */
  maxRequestsPerPod?: number;
}

export type SessionPhase = 'Pending' | 'Running' | 'Completed' | 'Failed';

/** Per-pod progress as the operator observes it. */
export type PodSessionState = 'Pending' | 'Sampling' | 'Done' | 'Lost' | 'Failed';

export interface PodStatus {
  name: string;
  requests: number;
  samples: number;
  state: PodSessionState;
  /** Why, when state is Failed or Lost. */
  message?: string;
  /**
   * (added with several agent processes per pod) How many agent processes of the pod took part, when
   * more than one (pre-fork workers, Node cluster): the row sums them. Absent means one.
   */
  processes?: number;
}

/** Standard Kubernetes condition; reasons are CamelCase. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface Hotspot {
  /** `function file:line` */
  frame: string;
  selfPercent: number;
}

/** What the operator observes. Decisions never read it back: it is recomputed from the store. */
export interface ProfilingSessionStatus {
  phase: SessionPhase;
  conditions: Condition[];
  requestsProfiled: number;
  /** `37/100`, for the printer column. */
  progress: string;
  pods: PodStatus[];
  startedAt?: string;
  completedAt?: string;
  hotspots: Hotspot[];
  /**
   * (added with issue 14) The interval the stored samples stand for (`10ms`): the spec's unless an agent
   * could not sample at it (the V8 sampler shares a coarser running interval). Exports use it as period.
   */
  sampleInterval?: string;
  resultURL?: string;
  observedGeneration?: number;
}

/** Condition types and reasons, stable strings shown by kubectl. */
export const CONDITION = Object.freeze({
  types: { ready: 'Ready', complete: 'Complete', specAccepted: 'SpecAccepted', requestTypeSeen: 'RequestTypeSeen' },
  reasons: {
    Accepted: 'Accepted',
    Started: 'Started',
    Sampling: 'Sampling',
    RequestsReached: 'RequestsReached',
    DeadlineExceeded: 'DeadlineExceeded',
    NoMatchingPods: 'NoMatchingPods',
    NoAgents: 'NoAgents',
    AgentsLost: 'AgentsLost',
    InvalidSpec: 'InvalidSpec',
    SpecChangeRefused: 'SpecChangeRefused',
    Deleted: 'Deleted',
    OperatorRestarted: 'OperatorRestarted',
    SamplerFailed: 'SamplerFailed',
    // (outcomes) a request type no agent has reported yet; the end of a session that profiled nothing
    RequestTypeSeen: 'RequestTypeSeen',
    UnknownRequestType: 'UnknownRequestType',
    NothingProfiled: 'NothingProfiled',
    NoMatchingRequests: 'NoMatchingRequests',
  },
});

/** Where a session came from. The API shows every session in the same shape whatever its source. */
export type SessionSource = 'kubernetes' | 'api' | 'file';

/** Who a session is, wherever it came from: the fields every representation of a session shares. */
export interface SessionIdentity {
  /** Stable id: the Kubernetes uid, or one the operator makes in standalone mode. */
  id: string;
  name: string;
  namespace: string;
  source: SessionSource;
  /** RFC 3339. */
  createdAt: string;
  /** metadata.generation in Kubernetes; 1 elsewhere, bumped on each accepted edit. */
  generation: number;
}

/** A session as the REST API and the UI see it. */
export interface SessionView extends SessionIdentity {
  spec: ProfilingSessionSpec;
  status: ProfilingSessionStatus;
}
