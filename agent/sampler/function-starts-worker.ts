// The worker thread FunctionStarts parses in (function-starts.ts): the app's thread never runs acorn.
// One message in per file, `{ id, file, max }`; one message out, `{ id, read, index }` with the index's
// arrays transferred (no copy). Files are read here too, so a slow disk costs the worker, not the app.
import { parentPort } from 'node:worker_threads';
import { indexFunctions } from './function-parse.js';
import { readBounded } from './read-bounded.js';

/** A request from FunctionStarts: parse `file` if it is a regular file of at most `max` bytes. */
export interface ParseRequest {
  id: number;
  file: string;
  max: number;
}

/** The answer: bytes read (the parse budget), the index or null, and an unexpected failure's message. */
export interface ParseReply {
  id: number;
  read: number;
  index: { fns: Int32Array; count: number; lineStarts: Int32Array } | null;
  error?: string;
}

const isRequest = (m: unknown): m is ParseRequest => {
  const r = m as ParseRequest;
  return typeof r === 'object' && r !== null && Number.isSafeInteger(r.id) && typeof r.file === 'string' && r.file.length <= 4096 && Number.isSafeInteger(r.max) && r.max >= 0;
};

parentPort?.on('message', (m: unknown) => {
  if (!isRequest(m)) return;
  let reply: ParseReply;
  try {
    const bytes = readBounded(m.file, m.max);
    const index = bytes === null ? null : indexFunctions(bytes.toString('utf8'));
    reply = { id: m.id, read: bytes?.length ?? 0, index };
  } catch (err) {
    // indexFunctions answers null for what does not parse; anything else (acorn's own bug, a stack
    // overflow) costs this file its starts, and the main thread logs it once.
    reply = { id: m.id, read: 0, index: null, error: String((err as Error)?.message ?? err).slice(0, 200) };
  }
  parentPort!.postMessage(reply, reply.index ? [reply.index.fns.buffer as ArrayBuffer, reply.index.lineStarts.buffer as ArrayBuffer] : []);
});
