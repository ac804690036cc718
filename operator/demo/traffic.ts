/**
 * The demo's traffic: a few loops on loopback calling the sample app's routes in a fixed mix (half
 * orders, a third searches, the rest checkouts), with a short pause so two cores stay usable.
 * Bounded: it stops when the signal aborts or after `maxRequests`.
 */
export interface TrafficOptions {
  /** Base URLs of the app instances, e.g. `http://127.0.0.1:41234`. */
  targets: string[];
  signal: AbortSignal;
  /** Loops per target. Default 2. */
  concurrency?: number;
  /** Pause after each request. Default 10 ms. */
  pauseMs?: number;
  maxRequests?: number;
}

export interface TrafficStats {
  sent: number;
  errors: number;
}

const REQUEST_TIMEOUT_MS = 5000;
const SEARCHES = ['amber', 'cedar grove', 'heron', 'maple nectar', 'onyx', 'fjord lumen'];

/** The i-th request of the mix. */
function request(base: string, i: number): { url: string; init: RequestInit } {
  const slot = i % 10;
  if (slot < 5) return { url: `${base}/api/orders/${1000 + (i % 97)}`, init: {} };
  if (slot < 8) return { url: `${base}/api/search?q=${encodeURIComponent(SEARCHES[i % SEARCHES.length]!)}`, init: {} };
  return {
    url: `${base}/api/checkout`,
    init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ order: String(1000 + (i % 97)), total: 100 * (i % 50) }) },
  };
}

/** Runs the traffic until stopped; resolves with what was sent. */
export async function generateTraffic(options: TrafficOptions): Promise<TrafficStats> {
  const stats: TrafficStats = { sent: 0, errors: 0 };
  const pause = options.pauseMs ?? 10;
  const max = options.maxRequests ?? Number.POSITIVE_INFINITY;
  let counter = 0;
  const loop = async (base: string): Promise<void> => {
    while (!options.signal.aborted && stats.sent < max) {
      const { url, init } = request(base, counter++);
      stats.sent++;
      try {
        // A per-request timeout rather than the shared stop signal: undici keeps an abort listener on a
        // shared signal per fetch until collection, and thousands of them trip MaxListenersExceeded.
        // The loop checks the stop signal between requests, and requests here take milliseconds.
        const res = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        await res.arrayBuffer();
        if (!res.ok) stats.errors++;
      } catch {
        if (options.signal.aborted) break;
        stats.errors++;
        await new Promise((r) => setTimeout(r, 200));
      }
      if (pause > 0) await new Promise((r) => setTimeout(r, pause));
    }
  };
  const loops: Promise<void>[] = [];
  for (const target of options.targets) for (let c = 0; c < (options.concurrency ?? 2); c++) loops.push(loop(target));
  await Promise.all(loops);
  return stats;
}
