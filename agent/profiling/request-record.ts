import type { RequestRecord } from '../../src/protocol/messages.js';
import type { RequestState } from './request-state.js';
import { serializeRequestTree } from './request-tree.js';

/** The protocol's record of a finished request, its tree in wire form. */
export function buildRequestRecord(r: RequestState): RequestRecord {
  let cpuUs = 0;
  let samples = 0;
  for (const s of r.own) {
    cpuUs += s.cpuUs;
    samples += s.weight;
  }
  const record: RequestRecord = {
    id: r.id,
    type: r.type,
    startedAt: Math.round(r.startUs / 1000),
    durationMs: Math.round((r.endUs - r.startUs) / 10) / 100,
    outcome: r.outcome,
    samples,
    cpuUs: Math.round(cpuUs),
    waitingUs: Math.round(r.waitingUs),
    blockedUs: Math.round(r.blockedUs),
    tree: serializeRequestTree(r),
  };
  if (r.status !== undefined) record.status = r.status;
  return record;
}
