import type { Frame } from '../../src/model/frame.js';
import type { RequestRecord } from '../../src/protocol/messages.js';
import type { RawSample } from '../sampler/profile-samples.js';
import { thinSample } from './interval-grid.js';
import type { RequestState } from './request-state.js';
import { serializeRequestTree } from './request-tree.js';

/**
 * The protocol's record of a finished request, its tree in wire form, as a session sampling every
 * `intervalUs` sees it: the sampler's ticks on that interval's grid (interval-grid.ts). Without an
 * interval, every tick. `settle` gives frames made before their function's start was known that start,
 * where it is known by now (Sampler.settle).
 */
export function buildRequestRecord(r: RequestState, intervalUs?: number, settle?: (f: Frame) => Frame): RequestRecord {
  const tally = intervalUs === undefined ? r : r.tallyFor(intervalUs);
  let own: readonly RawSample[] = r.own;
  if (intervalUs !== undefined && own.length > 0) {
    const thinned: RawSample[] = [];
    for (const s of own) {
      const t = thinSample(s, intervalUs);
      if (t) thinned.push(t);
    }
    own = thinned;
  }
  let cpuUs = 0;
  let samples = 0;
  for (const s of own) {
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
    waitingUs: Math.round(tally.waitingUs),
    blockedUs: Math.round(tally.blockedUs),
    tree: serializeRequestTree(own, tally, settle),
  };
  if (r.status !== undefined) record.status = r.status;
  return record;
}
