import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { SessionEngine } from '../engine/contracts.js';
import type { AgentInfo, ResultReader } from '../store/contracts.js';
import type { OperatorMode } from '../config.js';
import type { AccessResolver } from '../auth/access-resolver.js';
import type { HostPolicy } from '../auth/host-check.js';
import type { Clock } from '../clock.js';

/** Counters the agent hub keeps for `/metrics`. */
export interface HubCounters {
  /** Agent messages received, by message type. */
  messagesByType: Record<string, number>;
  /** Bytes of agent messages received. */
  bytesReceived: number;
  /** Connections closed for an error, by registry code. */
  errorsByCode: Record<string, number>;
  /** Profiled requests received from agents. */
  requestsProfiled: number;
}

/** What the REST API needs of the agent hub: its agents, its counters and its WebSocket upgrade. */
export interface HubPort {
  agents(): AgentInfo[];
  /** Optional (added with the limits): the number of connected agents, without copying each one's catalogue. */
  agentCount?(): number;
  counters(): HubCounters & { pending?: number };
  /** Takes over an HTTP upgrade on the agent path. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

/** Everything `buildServer` is given; it makes nothing of its own but routes. */
export interface ApiDeps {
  reader: ResultReader;
  engine: SessionEngine;
  hub: HubPort;
  mode: OperatorMode;
  /** Readiness: store open and, in a cluster, informers synced. */
  ready(): boolean;
  log: Logger;
  /** The built UI; a missing directory serves a page that says how to build it. */
  uiDir: string;
  version: string;
  /** Cluster mode limited to one namespace. */
  namespace?: string;
  /** Removes a deleted session's stored results (`DELETE …?purge=true`); absent: purge is refused. */
  purge?(id: string): void;
  /** Largest accepted request body; default 1 MiB. */
  bodyLimitBytes?: number;
  /** Serve HTTPS (and WSS) with this certificate; absent: plain HTTP. */
  https?: { cert: string; key: string };
  /** SSE keep-alive comment interval; default 15 s (tests shorten it). */
  sseHeartbeatMs?: number;
  /** An event stream ends after this long (the client reconnects and is authorised again); default 10 min. */
  sseMaxMs?: number;
  /** Who may use the API (`--auth`); default: everyone, with writes in standalone (tests, the local port). */
  access?: AccessResolver;
  /** Host names answered (DNS rebinding); default: IP literals, localhost and cluster-internal names. */
  hosts?: HostPolicy;
  /** False on the `--local-port` listener: no agent upgrades there. Default true. */
  agents?: boolean;
  /** Ends event streams when their credential expires; default the system clock. */
  clock?: Clock;
  /** Open event streams at most; the next one gets 503 until one closes. Default 256. */
  maxEventStreams?: number;
  /** Optional (added with the store's health): whether the store can write, for `/metrics`. */
  storeHealth?(): { writable: boolean; failedWrites: number };
}
