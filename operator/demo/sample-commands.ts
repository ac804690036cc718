import { parseArgs } from 'node:util';
import { negativeValuesInline } from '../cli-args.js';
import { ConfigError, parsePort } from '../config.js';

/**
 * `sonde sample-app` and `sonde sample-traffic`: the demo shop and its traffic as commands of the one
 * image, so the cluster tour (examples/) needs no other image. Both run until SIGTERM/SIGINT.
 */

function flags(argv: string[], options: Record<string, { type: 'string' }>): Record<string, string | undefined> {
  try {
    return parseArgs({ args: negativeValuesInline(argv), strict: true, allowPositionals: false, options }).values as Record<string, string | undefined>;
  } catch (err) {
    throw new ConfigError([`${(err as Error).message} (see \`sonde --help\`)`]);
  }
}

function wholeNumber(text: string | undefined, name: string, min: number, max: number, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new ConfigError([`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`]);
  return n;
}

/** Resolves when a stop signal arrives. */
function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
}

/** `sonde sample-app [--port 8080] [--host 127.0.0.1]`: serves the shop until a signal. */
export async function runSampleApp(argv: string[]): Promise<number> {
  const v = flags(argv, { port: { type: 'string' }, host: { type: 'string' } });
  const port = v.port === undefined ? 8080 : parsePort(v.port, '--port');
  const { startSampleApp } = await import('./sample-app.js');
  const app = await startSampleApp({ port, host: v.host ?? '127.0.0.1' });
  process.stdout.write(`sample app listening on ${v.host ?? '127.0.0.1'}:${app.port}\n`);
  await untilSignal();
  await app.close();
  return 0;
}

/** `sonde sample-traffic --target URL [--concurrency N] [--pause-ms MS]`: the demo's mix until a signal. */
export async function runSampleTraffic(argv: string[]): Promise<number> {
  const v = flags(argv, { target: { type: 'string' }, concurrency: { type: 'string' }, 'pause-ms': { type: 'string' } });
  if (!v.target || !/^https?:\/\/[^/\s]+\/?$/.test(v.target)) throw new ConfigError([`--target must be the app's base URL, such as http://shop.sonde-demo:8080, got ${JSON.stringify(v.target ?? '')}`]);
  const concurrency = wholeNumber(v.concurrency, '--concurrency', 1, 64, 2);
  const pauseMs = wholeNumber(v['pause-ms'], '--pause-ms', 0, 60_000, 20);
  const { generateTraffic } = await import('./traffic.js');
  const stop = new AbortController();
  void untilSignal().then(() => stop.abort());
  process.stdout.write(`sending traffic to ${v.target} (${concurrency} loops, ${pauseMs} ms pause)\n`);
  const stats = await generateTraffic({ targets: [v.target.replace(/\/$/, '')], signal: stop.signal, concurrency, pauseMs });
  process.stdout.write(`sent ${stats.sent} requests, ${stats.errors} errors\n`);
  return 0;
}
