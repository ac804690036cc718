// Closed-loop load for the agent benchmarks: each worker sends its next request when the last answered.
import http from 'node:http';

/** `total` requests, `concurrency` at a time, each waiting for its response. */
export async function closedLoop(port, total, concurrency) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < total) {
      const id = next++;
      await new Promise((resolve) => {
        http
          .get({ host: '127.0.0.1', port, path: `/api/orders/${id % 5000}`, agent }, (res) => {
            res.resume();
            res.on('end', resolve);
          })
          .on('error', () => {
            failed++;
            resolve();
          });
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  if (failed) throw new Error(`${failed} requests failed`);
}
