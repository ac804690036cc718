import type { FrameKind } from '../../src/model/frame.js';
import type { SerializedTree } from '../../src/model/serialized.js';
import type { RequestTypeStats } from '../../src/protocol/messages.js';
import type { SessionView } from '../../src/session/types.js';

/** Shapes of the REST API's answers (docs/api.md), as the UI reads them. */

export type { SessionView };

/** `GET /api/v1/info` */
export interface InfoResponse {
  mode: 'standalone' | 'cluster';
  version: string;
  namespace?: string;
  /** Who may use the API: `kubernetes` and `token` need a bearer token (older operators omit it). */
  auth?: 'kubernetes' | 'token' | 'none';
}

/** `GET /api/v1/access`: who the token is and which namespaces it may read. */
export interface AccessResponse {
  user: string;
  namespaces: 'all' | string[];
  write: boolean;
  expiresAt?: string;
}

/** `GET /api/v1/sessions/:id/tree` (format=json) */
export interface TreeResponse {
  session: string;
  tree: SerializedTree;
  /** How many requests the tree merges. */
  requests: number;
  filters: Record<string, unknown>;
  /** (Sonde 0.4) The application roots the tree's agents reported; files inside one show relative to it. */
  roots?: string[];
}

/** One row of `GET /api/v1/sessions/:id/requests`. */
export interface RequestSummaryView {
  id: string;
  pod: string;
  type: string;
  startedAt: number | string;
  durationMs: number;
  outcome: string;
  status?: number;
  samples: number;
  cpuUs: number;
  waitingUs: number;
  blockedUs: number;
}

/** One entry of the agents' request-type catalogue. */
export interface RequestTypeView extends RequestTypeStats {
  pods: number;
  namespaces: string[];
  workloads: string[];
}

/** A function's share inside one workload and request type. */
export interface HotspotGroupView {
  namespace: string;
  workload: string;
  request: string;
  selfUs: number;
  sessions: string[];
}

/** One row of `GET /api/v1/hotspots`. */
export interface HotspotRowView {
  frame: { name: string; file: string; line: number; kind: FrameKind };
  selfUs: number;
  totalUs: number;
  selfPercent: number;
  totalPercent: number;
  samples: number;
  groups: HotspotGroupView[];
}

export interface HotspotsResponse {
  items: HotspotRowView[];
  totalUs: number;
  /** (Sonde 0.4) The application roots of the sessions the rows come from; files inside one show relative to it. */
  roots?: string[];
}

export interface ItemsResponse<T> {
  items: T[];
}

/** The error body every endpoint uses. */
export interface ApiErrorBody {
  error: { code: string; message: string; problems?: { field: string; message: string }[] };
}

/** What `POST /api/v1/sessions` takes. */
export interface CreateSessionBody {
  name: string;
  namespace?: string;
  spec: {
    selector: { matchLabels?: Record<string, string> };
    request: string;
    requests?: number;
    duration?: string;
    sampleInterval?: string;
  };
}
