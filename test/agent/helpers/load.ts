import http from 'node:http';

/** Keep-alive HTTP load from this process: `concurrency` loops, each cycling through `paths`. */
export class Load {
  private stopped = false;
  private readonly agent: http.Agent;
  private readonly loops: Promise<void>[];
  done = 0;
  failed = 0;

  constructor(port: number, paths: ((i: number) => string)[], concurrency: number) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    this.loops = Array.from({ length: concurrency }, async (_, loop) => {
      for (let k = 0; !this.stopped; k++) {
        const path = paths[loop % paths.length]!(k);
        if (await get(port, path, this.agent)) this.done++;
        else this.failed++;
      }
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    this.agent.destroy();
  }
}

/** One GET; true on any complete response. */
export function get(port: number, path: string, agent?: http.Agent): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(true));
      res.on('error', () => resolve(false));
    });
    req.on('error', () => resolve(false));
  });
}

/** Polls `check` until it returns true or `ms` pass. */
export async function until(check: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
