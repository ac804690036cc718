/**
 * The hub's counters for `/metrics`, as plain numbers. The shape matches the front door's `HubCounters`
 * (operator/api/deps.ts), plus the gauges only the hub knows.
 */
export interface HubMetrics {
  /** Agent messages received, by message type. */
  messagesByType: Record<string, number>;
  /** Bytes of agent messages received (payloads, not framing). */
  bytesReceived: number;
  /** Connections closed for an error, by registry code (SONDE_…). */
  errorsByCode: Record<string, number>;
  /** Request records received from agents (before deduplication). */
  requestsProfiled: number;
  /** Authenticated agents connected now. */
  connected: number;
  /** Sockets upgraded but not yet through hello and authentication. */
  pending: number;
}

/** Mutable counters; `snapshot()` hands out a copy. */
export class CounterSet {
  messagesByType: Record<string, number> = {};
  bytesReceived = 0;
  errorsByCode: Record<string, number> = {};
  requestsProfiled = 0;

  message(type: string, bytes: number): void {
    this.messagesByType[type] = (this.messagesByType[type] ?? 0) + 1;
    this.bytesReceived += bytes;
  }

  error(code: string): void {
    this.errorsByCode[code] = (this.errorsByCode[code] ?? 0) + 1;
  }

  snapshot(connected: number, pending: number): HubMetrics {
    return {
      messagesByType: { ...this.messagesByType },
      bytesReceived: this.bytesReceived,
      errorsByCode: { ...this.errorsByCode },
      requestsProfiled: this.requestsProfiled,
      connected,
      pending,
    };
  }
}
