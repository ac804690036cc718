import { getEventListeners } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { drive } from './processes.js';

/**
 * The e2e traffic driver shares one stop signal across every request. Passed straight to fetch, each
 * request left a listener on it until GC (~700 MaxListenersExceededWarning lines on some suite runs).
 */
describe('drive', () => {
  it('leaves no listener per request on the shared stop signal', async () => {
    const server = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const stop = new AbortController();
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const traffic = drive([{ port }], stop.signal, 0);
      // Hundreds of requests (two loops), then a look at the signal while they still run.
      const t0 = Date.now();
      let most = 0;
      while (Date.now() - t0 < 1500) {
        most = Math.max(most, getEventListeners(stop.signal, 'abort').length);
        await new Promise((r) => setTimeout(r, 20));
      }
      stop.abort();
      const sent = await traffic;
      expect(sent).toBeGreaterThan(100);
      // At most one per request in flight (two loops).
      expect(most).toBeLessThanOrEqual(2);
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
      server.close();
    }
  });
});
