import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';

/** Receives every request any http or https server of this process emits. */
export interface RequestHandler {
  /** Called in place of emitting `request`; must call `emit` exactly once and return its result. */
  onRequest(req: IncomingMessage, res: ServerResponse, emit: () => boolean): boolean;
}

const PATCHED = Symbol.for('sonde.agent.httpEmit');

let handler: RequestHandler | undefined;
/** Called once, at the first `listening` of any http/https server after it was set (onFirstListening). */
let listening: (() => void) | undefined;

/**
 * Hooks `node:http` so every framework built on it (plain http, express, fastify, koa) is seen, with
 * no change to the app. Patching `Server.prototype.emit` for `request` rather than subscribing to
 * `http.server.request.start` is deliberate: the agent must run the handler inside the request's
 * sampling context, and only wrapping the emit can do that on every Node version. With no handler (no
 * agent) the patch is one comparison and a call.
 *
 * Idempotent and process-wide: a second agent copy (library plus `--import`) shares the one patch.
 */
export function installHttpHook(h: RequestHandler): () => void {
  for (const proto of [http.Server.prototype, https.Server.prototype] as unknown as Record<PropertyKey, unknown>[]) {
    if (proto[PATCHED]) continue;
    const original = proto.emit as (this: unknown, ...args: unknown[]) => boolean;
    const patched = function sondeEmit(this: unknown, event: string | symbol, req?: unknown, res?: unknown): boolean {
      // eslint-disable-next-line prefer-rest-params
      const args = arguments;
      if (event === 'listening' && listening !== undefined) notifyListening();
      if (event !== 'request' || handler === undefined) return original.apply(this, args as unknown as unknown[]);
      return handler.onRequest(req as IncomingMessage, res as ServerResponse, () => original.apply(this, args as unknown as unknown[]));
    };
    Object.defineProperty(proto, 'emit', { value: patched, writable: true, configurable: true });
    Object.defineProperty(proto, PATCHED, { value: original, configurable: true });
  }
  handler = h;
  return () => {
    if (handler === h) handler = undefined;
  };
}

function notifyListening(): void {
  const cb = listening;
  listening = undefined;
  try {
    cb?.();
  } catch {
    // The agent's business, never the app's: its server starts listening regardless.
  }
}

/**
 * Calls `cb` once, when an http or https server of this process first starts listening (through the
 * hook, so only after installHttpHook). The injected agent dials the operator then, not before: a
 * process that never serves (the `npm start` that runs the app, a build tool, a CLI child, all of which
 * inherit NODE_OPTIONS) never connects as the pod. Returns the cancel function.
 */
export function onFirstListening(cb: () => void): () => void {
  listening = cb;
  return () => {
    if (listening === cb) listening = undefined;
  };
}
