import type { WebSocket } from 'ws';

/**
 * Raises one connection's maximum message size after it is authenticated. `ws` has a single
 * `maxPayload` per server, checked by each connection's receiver from the frame header (before it
 * buffers the payload), which is exactly the check an unauthenticated socket must meet with a small
 * limit. There is no public setter per connection, so this writes the receiver's field — `ws` 8.x
 * (`lib/receiver.js`, `_maxPayload`). If a future `ws` renames it, this throws rather than leave
 * welcomed agents at the hello's limit without anyone noticing; test/operator/hub/hub-limits.test.ts
 * sends a message above the hello limit after welcome.
 */
export function raisePayloadLimit(ws: WebSocket, bytes: number): void {
  const receiver = (ws as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver;
  if (!receiver || typeof receiver._maxPayload !== 'number') {
    throw new Error('ws internals changed: cannot raise the payload limit of an authenticated connection (see operator/hub/payload-limit.ts)');
  }
  receiver._maxPayload = bytes;
}
