import type { CallTree } from '../../src/model/call-tree.js';
import type { Frame } from '../../src/model/frame.js';
import type { PodIdentity, RequestRecord, RequestTypeStats } from '../../src/protocol/messages.js';
import type { SessionPhase, SessionView } from '../../src/session/types.js';

/** A profiled request without its tree, as lists show it. */
export interface RequestSummary extends Omit<RequestRecord, 'tree'> {
  pod: string;
}

export interface TreeFilter {
  /** One pod's requests only. */
  pod?: string;
  /** `slow`: requests with duration ≥ the session's p90; `typical`: ≤ p50. */
  split?: 'slow' | 'typical';
  /** One request by id. */
  requestId?: string;
}

export interface HotspotFilter {
  namespace?: string;
  /** Only these namespaces (the caller's readable ones); an empty list selects nothing. */
  namespaces?: readonly string[];
  workload?: string;
  request?: string;
  limit?: number;
  by?: 'self' | 'total';
}

export interface HotspotGroup {
  namespace: string;
  workload: string;
  request: string;
  selfUs: number;
  sessions: string[];
}

export interface HotspotRow {
  frame: Pick<Frame, 'name' | 'file' | 'line' | 'kind'>;
  selfUs: number;
  totalUs: number;
  selfPercent: number;
  totalPercent: number;
  samples: number;
  groups: HotspotGroup[];
}

/** The store as readers (the REST API, the UI) see it. Everything returned is a copy. */
export interface ResultReader {
  getSession(id: string): SessionView | undefined;
  findSession(namespace: string, name: string): SessionView | undefined;
  listSessions(filter?: { namespace?: string; phase?: SessionPhase }): SessionView[];
  requests(sessionId: string, filter?: Pick<TreeFilter, 'pod'>): RequestSummary[];
  /** The merged tree of the requests the filter selects; an empty tree when none. */
  tree(sessionId: string, filter?: TreeFilter): CallTree;
  /** Optional (added with the limits): the same, merging a split or request selection without blocking the event loop. */
  treeAsync?(sessionId: string, filter?: TreeFilter): Promise<CallTree>;
  hotspots(filter?: HotspotFilter): { items: HotspotRow[]; totalUs: number };
  /** Optional (Sonde 0.4): the application roots a session's agents reported (source-path.ts); none when absent. */
  roots?(sessionId: string, filter?: Pick<TreeFilter, 'pod'>): string[];
}

/** A connected agent as the API lists it. */
export interface AgentInfo {
  id: string;
  pod: PodIdentity;
  labels: Record<string, string>;
  runtime: string;
  runtimeVersion: string;
  agentVersion: string;
  connectedAt: string;
  sessions: string[];
  catalogue: RequestTypeStats[];
  /** (Sonde 0.4) The application root the agent reported in hello, when it did. */
  root?: string;
}
