import type { SessionPhase } from '../src/session/types.js';

/**
 * Prometheus metrics in the text exposition format (version 0.0.4), written by hand: a handful of
 * gauges and counters do not need a client library. The numbers come from a snapshot the caller takes,
 * so rendering is pure and testable.
 */
export interface MetricsSnapshot {
  sessionsByPhase: Record<SessionPhase, number>;
  agentsConnected: number;
  messagesByType: Record<string, number>;
  bytesReceived: number;
  errorsByCode: Record<string, number>;
  requestsProfiled: number;
  /** Optional (added with the store's health): whether the store can write, and the writes it refused. */
  store?: { writable: boolean; failedWrites: number };
  /** Optional: sockets waiting for hello or authentication. */
  agentsPending?: number;
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const PHASES: SessionPhase[] = ['Pending', 'Running', 'Completed', 'Failed'];

/** Label values escape backslash, double quote and newline. */
function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function family(lines: string[], name: string, type: 'gauge' | 'counter', help: string, samples: [labels: string, value: number][]): void {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  for (const [labels, value] of samples) lines.push(`${name}${labels} ${Number.isFinite(value) ? value : 0}`);
}

/** The `/metrics` body. */
export function renderMetrics(s: MetricsSnapshot): string {
  const lines: string[] = [];
  family(lines, 'sonde_sessions', 'gauge', 'Sessions by phase.', PHASES.map((p) => [`{phase="${p}"}`, s.sessionsByPhase[p] ?? 0]));
  family(lines, 'sonde_agents_connected', 'gauge', 'Agents connected now.', [['', s.agentsConnected]]);
  const byType = Object.entries(s.messagesByType).sort(([a], [b]) => (a < b ? -1 : 1));
  family(lines, 'sonde_agent_messages_total', 'counter', 'Agent messages received, by type.', byType.map(([t, v]) => [`{type="${label(t)}"}`, v]));
  family(lines, 'sonde_agent_bytes_total', 'counter', 'Bytes of agent messages received.', [['', s.bytesReceived]]);
  const byCode = Object.entries(s.errorsByCode).sort(([a], [b]) => (a < b ? -1 : 1));
  family(lines, 'sonde_agent_errors_total', 'counter', 'Agent connections closed for an error, by code.', byCode.map(([c, v]) => [`{code="${label(c)}"}`, v]));
  family(lines, 'sonde_requests_profiled_total', 'counter', 'Profiled requests received from agents.', [['', s.requestsProfiled]]);
  if (s.agentsPending !== undefined) family(lines, 'sonde_agents_pending', 'gauge', 'Agent sockets waiting for hello or authentication.', [['', s.agentsPending]]);
  if (s.store) {
    family(lines, 'sonde_store_writable', 'gauge', '1 while the store can write; 0 when its disk is full or read-only.', [['', s.store.writable ? 1 : 0]]);
    family(lines, 'sonde_store_failed_writes_total', 'counter', 'Store writes refused because storage was full or read-only.', [['', s.store.failedWrites]]);
  }
  return lines.join('\n') + '\n';
}

/** Counts sessions by phase. */
export function countPhases(sessions: Iterable<{ status: { phase: SessionPhase } }>): Record<SessionPhase, number> {
  const out: Record<SessionPhase, number> = { Pending: 0, Running: 0, Completed: 0, Failed: 0 };
  for (const s of sessions) out[s.status.phase]++;
  return out;
}
